"""PWCCA paper (Morcos et al. 2018), Fig 6: learning dynamics of recurrent language models -- the
distance of each layer's representation at a training checkpoint to the same layer at the end
of training, for a 3-layer and a 5-layer LSTM; (d) the same with the unweighted mean CCA.

Default scale: LSTM LMs (64 units) on synthetic sequences from a fixed first-order Markov chain
(:mod:`paper_repro.lm`), not PTB / WikiText-2; ``--scale paper`` trains the 3-layer model on PTB and
the 5-layer one on WikiText-2 (as the paper) from ``--data-dir``.
The x axis is training steps (the paper: epochs).  Representation of a layer: its hidden states
at every step of ``n_eval`` held-out sequences (datapoints = sequences x steps, after a
``burn_in`` prefix).  PWCCA: paper definition, distance = 1 - similarity (the published PTB /
WT2 images plot the similarity, 1 - distance).
"""
from __future__ import annotations

import numpy as np

import fastcca

from ..analysis import pwcca_distance
from ..claims import ClaimCheck, vs
from ..lm import corpus_label, held_out, hidden_states, stored_corpus_label, synthetic_note, train_lm
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-fig6", title="PWCCA distance to final representation vs epoch, recurrent LMs",
                  time_small="~25 s", needs=("torch (CPU)", "synthetic sequences (PTB / WikiText-2 from --data-dir at paper scale)"))

_BASE = {"vocab": 32, "embed": 32, "hidden": 64, "length": 20, "n_train": 4000, "batch": 64, "lr": 3e-3}
CONFIGS = {
    "tiny": {"vocab": 16, "embed": 8, "hidden": 12, "length": 8, "n_train": 200, "batch": 32, "lr": 1e-2,
             "steps": 20, "checkpoints": [0, 5, 10, 20], "depths": [3, 5], "n_eval": 100, "burn_in": 4},
    "small": dict(_BASE, steps=1000, checkpoints=[0, 10, 25, 50, 100, 150, 200, 300, 400, 500, 600, 700, 800,
                                                   900, 1000], depths=[3, 5], n_eval=500, burn_in=10),
    "paper": dict(_BASE, hidden=200, embed=64, n_train=10**9, steps=5000, vocab=None,
                  corpus={"3": "ptb", "5": "wikitext2"},
                  checkpoints=[0, 50, 100, 250, 500] + list(range(1000, 5001, 500)), depths=[3, 5],
                  n_eval=1000, burn_in=10),
}


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    seed, b = cfg["seed"], cfg["burn_in"]
    models, failures = [], []
    for depth in cfg["depths"]:
        tcfg, run = train_lm(ctx, cfg, depth, cfg["checkpoints"], seed)
        tokens = held_out(cfg, cfg["n_eval"], b + cfg["length"], seed, layers=depth, data_dir=ctx.data_dir)
        reps = []                                            # checkpoint -> layer -> (n_eval*T, hidden)
        for state in run["states"]:
            hs = hidden_states(tcfg, state, tokens, device=ctx.torch_device)
            reps.append([h[:, b:].reshape(-1, h.shape[-1]) for h in hs])
        final = reps[-1]
        dist = {"pwcca": [[0.0] * len(reps) for _ in range(depth)],
                "mean_cca": [[0.0] * len(reps) for _ in range(depth)]}
        bar = ctx.stage(f"{depth}-layer LSTM distances", depth * len(reps))
        for li in range(depth):
            for c, rep in enumerate(reps):
                mom = fastcca.Moments.from_arrays(rep[li], final[li], backend=ctx.fastcca_backend)
                dist["pwcca"][li][c] = pwcca_distance(mom, None, ctx.fastcca_backend, failures,
                                                      f"{depth}-layer, layer {li + 1}, step {run['checkpoints'][c]}")
                dist["mean_cca"][li][c] = fastcca.mean_cca(mom).distance
                bar.update()
        bar.close()
        models.append({"layers": depth, "distance": dist, "loss_curve": run["loss"][:: max(1, cfg["steps"] // 200)],
                       "final_loss": float(np.mean(run["loss"][-20:]))})
    return {"steps": run["checkpoints"], "models": models, "n_datapoints": cfg["n_eval"] * cfg["length"],
            "hidden": cfg["hidden"], "pwcca_failures": failures, "data_label": corpus_label(cfg, cfg["depths"])}


def _per_layer_mean(d):
    """Mean distance over the checkpoints before the last, per layer."""
    return [float(np.nanmean(np.asarray(x, dtype=float)[:-1])) for x in d]


def check(data) -> ClaimCheck:
    meas, ok = {}, True
    for m in data["models"]:
        pw = _per_layer_mean(m["distance"]["pwcca"])
        mc = _per_layer_mean(m["distance"]["mean_cca"])
        in_order = float(np.mean([b > a for a, b in zip(pw, pw[1:])]))
        spread_pw = (max(pw) - min(pw)) / np.mean(pw)
        spread_mc = (max(mc) - min(mc)) / np.mean(mc)
        meas[f"{m['layers']}-layer"] = {"pwcca_mean_distance_per_layer": pw, "mean_cca_distance_per_layer": mc,
                                        "adjacent_layers_in_bottom_up_order": in_order,
                                        "relative_spread_pwcca": float(spread_pw),
                                        "relative_spread_mean_cca": float(spread_mc)}
        ok &= in_order >= 0.75 and pw[0] < pw[-1]
    return ClaimCheck(
        claim="recurrent LMs converge bottom-up (lower layers reach their final representation sooner)",
        statistic=("per model, each layer's PWCCA distance to its final representation averaged over the "
                   "checkpoints; holds iff layer 1 < last layer and >= 75% of adjacent layer pairs increase "
                   "with depth.  Reported, not tested: the relative spread of the layer curves for PWCCA vs "
                   "the unweighted mean CCA (the paper: the unweighted mean obscures the ordering)"),
        measured=dict(meas, pwcca_failed_points=len(data["pwcca_failures"])), holds=bool(ok),
        comparison=tuple(vs(f"{k}: mean PWCCA distance to the final representation, layer 1 vs top layer",
                            "layer 1 lowest, rising with depth (curves; no number given)",
                            f"{v['pwcca_mean_distance_per_layer'][0]:.3f} vs {v['pwcca_mean_distance_per_layer'][-1]:.3f}",
                            "Morcos et al. 2018, Fig 6") for k, v in meas.items()),
        note=f"{stored_corpus_label(data)}{synthetic_note(stored_corpus_label(data))}; x axis in training steps"
             + (f"; fastcca.pwcca raised LinAlgError at {len(data['pwcca_failures'])} point(s), drawn as gaps "
                "and left out of the means: " + "; ".join(data["pwcca_failures"]) if data["pwcca_failures"] else ""))


def draw(data):
    import matplotlib.pyplot as plt
    panels = [(m, "pwcca") for m in data["models"]] + [(data["models"][-1], "mean_cca")]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8))
    steps = np.asarray(data["steps"])
    for ax, (m, key) in zip(axes, panels):
        cmap = plt.get_cmap("magma")
        for li, d in enumerate(m["distance"][key]):
            ax.plot(steps, np.asarray(d, dtype=float), color=cmap(0.1 + 0.75 * li / max(1, m["layers"] - 1)), lw=2, label=f"layer {li + 1}")
        what = "PWCCA distance" if key == "pwcca" else "unweighted mean CCA distance"
        ax.set_title(f"{m['layers']}-layer LSTM: {what}", fontsize=10)
        ax.set_xlabel("training step")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("distance to the final representation")
    fig.suptitle(f"PWCCA Fig 6: learning dynamics of LSTM LMs ({data['hidden']} units, {stored_corpus_label(data)}, "
                 f"{data['n_datapoints']} datapoints)", fontsize=10)
    fig.tight_layout()
    return fig
