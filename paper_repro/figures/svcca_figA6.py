"""SVCCA paper (Raghu et al. 2017), appendix Fig A6: learning dynamics of a stacked LSTM -- per
layer, the SVCCA similarity between the layer during training and the same layer at the end.

Runs: the LSTM LMs of pwcca-fig6 (same configuration, shared through the cache): 3- and 5-layer
LSTMs on synthetic Markov-chain sequences at the default scale, not PTB (PTB / WikiText-2 from
``--data-dir`` at ``--scale paper``).
SVCCA keeps the top directions reaching 0.99 of the sum of singular values (the papers' rule);
similarity = mean of the min(k1, k2) canonical correlations.  Datapoints: hidden states at all
steps of the held-out sequences (after a burn-in prefix), as in pwcca-fig6.
"""
from __future__ import annotations

import numpy as np

import fastcca

from ..claims import ClaimCheck, vs
from ..lm import corpus_label, held_out, hidden_states, stored_corpus_label, synthetic_note, train_lm
from ..registry import FigureInfo
from .pwcca_fig6 import CONFIGS

INFO = FigureInfo(id="svcca-figA6", title="stacked LSTM, per-layer learning dynamics",
                  time_small="~25 s",
                  needs=("torch (CPU)", "the LSTM LM runs of pwcca-fig6 (cached, shared)"))


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    seed, b = cfg["seed"], cfg["burn_in"]
    models = []
    for depth in cfg["depths"]:
        tcfg, run = train_lm(ctx, cfg, depth, cfg["checkpoints"], seed)
        tokens = held_out(cfg, cfg["n_eval"], b + cfg["length"], seed, layers=depth, data_dir=ctx.data_dir)
        reps = [[h[:, b:].reshape(-1, h.shape[-1]) for h in hidden_states(tcfg, s, tokens, device=ctx.torch_device)] for s in run["states"]]
        sim = [[0.0] * len(reps) for _ in range(depth)]
        kept = [[0] * len(reps) for _ in range(depth)]
        bar = ctx.stage(f"{depth}-layer LSTM distances", depth * len(reps))
        for li in range(depth):
            for c, rep in enumerate(reps):
                r = fastcca.svcca(rep[li], reps[-1][li], keep=0.99, keep_rule="sum", backend=ctx.fastcca_backend)
                sim[li][c], kept[li][c] = r.similarity, r.k_x
                bar.update()
        bar.close()
        models.append({"layers": depth, "svcca_similarity": sim, "kept_dims": kept})
    return {"steps": run["checkpoints"], "models": models, "hidden": cfg["hidden"],
            "n_datapoints": cfg["n_eval"] * cfg["length"], "data_label": corpus_label(cfg, cfg["depths"])}


def check(data) -> ClaimCheck:
    meas, ok = {}, True
    for m in data["models"]:
        per_layer = [float(np.mean(np.asarray(s, dtype=float)[:-1])) for s in m["svcca_similarity"]]
        in_order = float(np.mean([b < a for a, b in zip(per_layer, per_layer[1:])]))
        meas[f"{m['layers']}-layer"] = {"mean_similarity_per_layer": per_layer,
                                        "adjacent_layers_in_bottom_up_order": in_order}
        ok &= in_order >= 0.75 and per_layer[0] > per_layer[-1]
    return ClaimCheck(
        claim="in a stacked LSTM the lower layers converge to their final representation faster",
        statistic=("per model, each layer's SVCCA similarity to its final representation averaged over the "
                   "checkpoints; holds iff layer 1 > last layer and >= 75% of adjacent layer pairs decrease "
                   "with depth"),
        measured=meas, holds=bool(ok),
        comparison=tuple(vs(f"{k}: mean SVCCA with the final step, layer 1 vs top layer",
                            "lower layers converge faster (curves; no number given)",
                            f"{v['mean_similarity_per_layer'][0]:.2f} vs {v['mean_similarity_per_layer'][-1]:.2f}",
                            "Raghu et al. 2017, Fig A6") for k, v in meas.items()),
        note=f"{stored_corpus_label(data)}{synthetic_note(stored_corpus_label(data))}; x axis in training steps")


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(data["models"]), figsize=(5 * len(data["models"]), 3.8), squeeze=False)
    steps = np.asarray(data["steps"])
    cmap = plt.get_cmap("magma")
    for ax, m in zip(axes[0], data["models"]):
        for li, s in enumerate(m["svcca_similarity"]):
            ax.plot(steps, np.asarray(s, dtype=float), color=cmap(0.1 + 0.75 * li / max(1, m["layers"] - 1)),
                    lw=2, label=f"layer {li + 1}")
        ax.set_title(f"{m['layers']}-layer LSTM", fontsize=10)
        ax.set_xlabel("training step")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("SVCCA similarity with the final layer")
    fig.suptitle(f"SVCCA Fig A6: per-layer learning dynamics of stacked LSTM LMs ({data['hidden']} units, "
                 f"{stored_corpus_label(data)}, {data['n_datapoints']} datapoints)", fontsize=10)
    fig.tight_layout()
    return fig
