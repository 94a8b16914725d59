"""PWCCA paper (Morcos et al. 2018), appendix Fig A8: the learning dynamics of pwcca-fig6 measured
with cosine and Euclidean distance instead of CCA -- each layer's distance to its final
representation over training, for a 3-layer and a 5-layer LSTM LM.

- cosine distance: mean over datapoints of 1 - cos(h_c, h_final) for a layer's hidden vector at
  checkpoint c and at the end of training;
- Euclidean distance: mean over datapoints of ||h_c - h_final||, divided by the mean ||h_final||.

``--scale paper``: pwcca-fig6's runs (3-layer on PTB, 5-layer on WikiText-2, shared through the
cache), the same held-out datapoints.  Default scale: this figure's OWN LMs (128 units), trained
on :func:`paper_repro.data.word_sequences` -- a Markov chain over 64 words of 2-5 letters, spelled
letter by letter with a separator -- not pwcca-fig6's first-order Markov tokens: there every layer
only needs the current token, depth has nothing to order and the raw-activation distances came
out unordered or top-down; the word hierarchy (letters -> words -> word transitions) gives depth
something to order (docs/paper-claims.md, pwcca-figA8).
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..data import LEXICON_SEED, WORD_LETTERS
from ..lm import SYNTHETIC_LABELS, corpus_label, held_out, hidden_states, stored_corpus_label, synthetic_note, train_lm
from ..registry import FigureInfo
from .pwcca_fig6 import CONFIGS as FIG6_CONFIGS

INFO = FigureInfo(id="pwcca-figA8", title="cosine and Euclidean learning dynamics for the RNNs",
                  time_small="~115 s",
                  needs=("torch (CPU)", "its own LSTM LMs on synthetic word sequences (pwcca-fig6's PTB / "
                         "WikiText-2 runs at paper scale, cached, shared)"))
METRICS = ("cosine", "euclidean")

_WORDS = {"synthetic": "words", "lexicon_seed": LEXICON_SEED, "vocab": WORD_LETTERS + 1}
CONFIGS = {
    "tiny": dict(_WORDS, embed=8, hidden=12, length=8, n_train=200, batch=32, lr=1e-2, steps=20,
                 checkpoints=[0, 5, 10, 20], depths=[3, 5], n_eval=100, burn_in=4),
    # pwcca-fig6's small training (steps, checkpoints, batch, lr, datapoints), wider LSTMs on words
    "small": dict(_WORDS, embed=32, hidden=128, length=20, n_train=4000, batch=64, lr=3e-3, steps=1000,
                  checkpoints=FIG6_CONFIGS["small"]["checkpoints"], depths=[3, 5], n_eval=500, burn_in=10),
    "paper": FIG6_CONFIGS["paper"],                      # the paper's data: pwcca-fig6's runs, shared
}


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    seed, b = cfg["seed"], cfg["burn_in"]
    models = []
    for depth in cfg["depths"]:
        tcfg, run = train_lm(ctx, cfg, depth, cfg["checkpoints"], seed)
        tokens = held_out(cfg, cfg["n_eval"], b + cfg["length"], seed, layers=depth, data_dir=ctx.data_dir)
        reps = [[h[:, b:].reshape(-1, h.shape[-1]) for h in hidden_states(tcfg, s, tokens, device=ctx.torch_device)] for s in run["states"]]
        final = reps[-1]
        dist = {m: [[0.0] * len(reps) for _ in range(depth)] for m in METRICS}
        for li in range(depth):
            f = final[li]
            nf = np.linalg.norm(f, axis=1)
            for c, rep in enumerate(reps):
                x = rep[li]
                nx = np.linalg.norm(x, axis=1)
                dist["cosine"][li][c] = float(np.mean(1.0 - np.sum(x * f, 1) / np.maximum(nx * nf, 1e-300)))
                dist["euclidean"][li][c] = float(np.mean(np.linalg.norm(x - f, axis=1)) / np.mean(nf))
        models.append({"layers": depth, "distance": dist})
    return {"steps": run["checkpoints"], "models": models, "hidden": cfg["hidden"],
            "n_datapoints": cfg["n_eval"] * cfg["length"], "data_label": corpus_label(cfg, cfg["depths"])}


def check(data) -> ClaimCheck:
    meas, ok = {}, True
    for m in data["models"]:
        for key in METRICS:
            per_layer = [float(np.mean(np.asarray(d, dtype=float)[:-1])) for d in m["distance"][key]]
            in_order = float(np.mean([b > a for a, b in zip(per_layer, per_layer[1:])]))
            meas[f"{m['layers']}-layer {key}"] = {"mean_distance_per_layer": per_layer,
                                                  "adjacent_layers_in_bottom_up_order": in_order}
            ok &= in_order >= 0.75 and per_layer[0] < per_layer[-1]
    return ClaimCheck(
        claim="cosine and Euclidean distances also show bottom-up convergence in the RNNs (noisier than CCA)",
        statistic=("per model and metric, each layer's distance to its final representation averaged over the "
                   "checkpoints; holds iff layer 1 < last layer and >= 75% of adjacent layer pairs increase "
                   "with depth (the noise is shown, not tested)"),
        measured=meas, holds=bool(ok),
        comparison=tuple(vs(f"{k}: share of adjacent layer pairs in bottom-up order", "bottom-up, noisier than CCA "
                            "(curves; no number given)", v["adjacent_layers_in_bottom_up_order"],
                            "Morcos et al. 2018, Fig A8") for k, v in meas.items()),
        note=f"{stored_corpus_label(data)}{synthetic_note(stored_corpus_label(data))}; x axis in training steps"
             + _synthetic_caveat(stored_corpus_label(data)))


def _synthetic_caveat(label: str) -> str:
    """Why the default-scale data is what it is (docs/paper-claims.md, pwcca-figA8)."""
    if label == SYNTHETIC_LABELS["words"]:
        return ("; this figure's own LMs (not pwcca-fig6's) on a Markov chain over words of 2-5 letters, so the "
                "next letter needs the word and the position in it: on pwcca-fig6's token-level chain LMs of the "
                "same configuration showed no bottom-up order")
    if label == SYNTHETIC_LABELS["markov"]:                # JSON written before the figure had its own LMs
        return ("; on a first-order Markov chain every layer only needs the current token, so depth has little to "
                "order (docs/paper-claims.md)")
    return ""


def draw(data):
    import matplotlib.pyplot as plt
    panels = [(m, key) for key in METRICS for m in data["models"]]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 3.8))
    steps = np.asarray(data["steps"])
    cmap = plt.get_cmap("magma")
    for ax, (m, key) in zip(axes, panels):
        for li, d in enumerate(m["distance"][key]):
            ax.plot(steps, np.asarray(d, dtype=float), color=cmap(0.1 + 0.75 * li / max(1, m["layers"] - 1)),
                    lw=2, label=f"layer {li + 1}")
        label = "cosine distance" if key == "cosine" else "Euclidean distance / ||h_final||"
        ax.set_title(f"{m['layers']}-layer LSTM: {label}", fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("distance to the final representation")
    fig.suptitle(f"PWCCA Fig A8: cosine / Euclidean learning dynamics of LSTM LMs "
                 f"({data['hidden']} units, {stored_corpus_label(data)}, {data['n_datapoints']} datapoints)", fontsize=10)
    fig.tight_layout()
    return fig
