"""SVCCA paper (Raghu et al. 2017), appendix Fig A5: compressing the top layers of a trained
convnet by projecting each onto a few SVCCA directions (no retraining); test accuracy vs the
number of top layers compressed, with the directions from SVCCA between two nets or from SVCCA
against the logits.

Interpretation (FIGURES.md: "accuracy vs number of top layers compressed onto top SVCCA
directions: SVCCA between two nets vs SVCCA against logits; logits-based compression keeps
accuracy at ~0.35 of size"), written down because the paper's appendix is terse:

- Net: net 1 of the two SVCCA convnets (:func:`paper_repro.runs.svcca_run`, seeds ``seed`` and
  ``seed + 1``, shared through the cache).  Directions are fitted on the training images,
  accuracy is measured on the test images.
- "Top layers": the representation layers counted from the top, ``fc2, fc1, p2, c5`` (the dense
  layers, then the last pool, then the last conv; conv layers flattened: every (channel,
  position) is a neuron; BatchNorm layers are affine images of the layer below and are not
  counted).  "n top layers compressed" = the first n of that list are replaced, all in the same
  forward pass, by their projections (:func:`paper_repro.compress.accuracy_with`).  At paper scale
  only fc2, fc1, p2 (a flattened 32x32 c5 has 32768 neurons).
- "Size": the fraction f of each layer's dimensions kept: layer of width p is projected onto
  k = max(1, round(f p)) directions (:func:`paper_repro.compress.subspace_projector`: every neuron
  replaced by its least-squares fit from the k variates).  The figure sweeps f.
- "SVCCA between two nets": the top-k canonical directions of net 1's layer in SVCCA against net
  2's same layer (0.99 of the sum of singular values kept, as the paper's SVCCA).
- "SVCCA against the logits": SVCCA of net 1's layer against net 1's own logits.  The logits have
  ``classes`` dimensions, so this CCA gives at most that many directions; when the budget k is
  larger, the remaining k - m directions are the top principal directions of what those m
  variates leave unexplained (:func:`paper_repro.compress.ranked_directions`; the same padding is
  applied to the two-net directions, where it only matters when k exceeds the number of SVCCA
  directions).  So at equal size both methods keep the same number of dimensions per layer.
- Claim check: at f = ``claim_fraction`` (0.35) with every listed top layer compressed, the
  logits-based compression keeps the full net's test accuracy within ``tol``.
"""
from __future__ import annotations

import numpy as np

from ..analysis import svcca_directions
from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..compress import accuracy_with, ranked_direction_sets, subspace_projector, svcca_convnet_pair
from ..registry import FigureInfo

INFO = FigureInfo(id="svcca-figA5", title="accuracy vs number of top layers compressed: SVCCA between nets vs with logits",
                  time_small="~45 s",
                  needs=("torch (CPU)", "two SVCCA convnets (cached, shared with svcca-fig2a, fig2b, fig4, ...)"))

FRACTIONS = [0.05, 0.1, 0.15, 0.2, 0.35, 0.5, 0.75]
CONFIGS = {
    "tiny": {"layers": ["fc2", "fc1", "p2", "c5"], "fractions": [0.1, 0.35, 0.75], "claim_fraction": 0.35,
             "keep": 0.99, "tol": 0.01, "fit_max": None},
    "small": {"layers": ["fc2", "fc1", "p2", "c5"], "fractions": FRACTIONS, "claim_fraction": 0.35,
              "keep": 0.99, "tol": 0.01, "fit_max": None},
    "paper": {"layers": ["fc2", "fc1", "p2"], "fractions": FRACTIONS, "claim_fraction": 0.35,
              "keep": 0.99, "tol": 0.01, "fit_max": 10000},
}
METHODS = ("two nets", "logits")


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    layers = cfg["layers"]
    pair = svcca_convnet_pair(ctx, layers, cfg["fit_max"])
    net, (a1, a2) = pair["models"][0], pair["fit"]
    xt, yt = pair["x_test"], pair["y_test"]
    full = accuracy_with(net, xt, yt, {})
    dirs, info = {}, {}
    for name in ctx.track(layers, "SVCCA"):
        h = a1[name]
        nets = svcca_directions(h, a2[name], keep=cfg["keep"], backend=ctx.fastcca_backend)
        logit = svcca_directions(h, pair["logits_fit"], keep=cfg["keep"], backend=ctx.fastcca_backend)
        dirs[name] = {"two nets": nets["dirs_x"], "logits": logit["dirs_x"]}
        info[name] = {"width": h.shape[1], "n_directions": {"two nets": nets["dirs_x"].shape[1],
                                                           "logits": logit["dirs_x"].shape[1]},
                      "rho_logits": logit["rho"], "rho_two_nets": nets["rho"]}
    fractions = [float(f) for f in cfg["fractions"]]
    if cfg["claim_fraction"] not in fractions:
        fractions = sorted(fractions + [float(cfg["claim_fraction"])])
    acc = {m: {} for m in METHODS}
    kept = {str(f): {name: max(1, int(round(f * info[name]["width"]))) for name in layers} for f in fractions}
    # one decomposition of each layer's residual serves every budget
    ranked = {(name, method): ranked_direction_sets(a1[name], dirs[name][method]) for name in layers for method in METHODS}
    for f in ctx.track(fractions, "sizes"):
        for method in METHODS:
            projs, row = {}, [full]
            for name in layers:
                d = ranked[name, method](kept[str(f)][name])
                projs[net.layer_names.index(name)] = subspace_projector(a1[name], d)
                row.append(accuracy_with(net, xt, yt, projs))
            acc[method][str(f)] = row
    return {"full_accuracy": full, "tol": cfg["tol"], "layers": layers, "fractions": fractions,
            "claim_fraction": float(cfg["claim_fraction"]), "accuracy": acc, "kept": kept, "layer_info": info,
            "data_label": pair["data_label"]}


def _smallest_fraction(data, method):
    """Smallest f whose accuracy with every top layer compressed is within tol of the full net."""
    for f in data["fractions"]:
        if data["accuracy"][method][str(f)][-1] >= data["full_accuracy"] - data["tol"]:
            return f
    return None


def check(data) -> ClaimCheck:
    f = data["claim_fraction"]
    n = len(data["layers"])
    at = {m: data["accuracy"][m][str(f)][-1] for m in METHODS}
    holds = at["logits"] >= data["full_accuracy"] - data["tol"]
    smallest = {m: _smallest_fraction(data, m) for m in METHODS}
    return ClaimCheck(
        claim="compressing the top layers onto their SVCCA directions with the logits keeps the accuracy at ~0.35 of "
              "their size",
        statistic=(f"test accuracy with all {n} top layers ({', '.join(data['layers'])}) projected onto f = {f} of "
                   f"their dimensions; holds iff the logits-based one is within {data['tol']} of the full net's "
                   f"({data['full_accuracy']:.4f})"),
        measured={"accuracy_all_compressed_at_claim_fraction": at, "full_accuracy": data["full_accuracy"],
                  "smallest_fraction_keeping_accuracy": smallest},
        holds=bool(holds),
        comparison=(vs("fraction of the top layers' size that keeps the accuracy (logits-based SVCCA)", "~0.35",
                       smallest["logits"], "Raghu et al. 2017, Fig A5"),
                    vs(f"accuracy with every top layer at f = {f} (logits / two nets / full)", None,
                       f"{at['logits']:.3f} / {at['two nets']:.3f} / {data['full_accuracy']:.3f}")),
        note=(f"{stored_data_label(data)}; both methods keep the accuracy down to f = {smallest['logits']} (logits) / "
              f"{smallest['two nets']} (two nets): with 10 classes about as many directions suffice, so 0.35 is not "
              "the limit here; the paper's advantage of the logits over two-net directions is not separately tested"))


def draw(data):
    import matplotlib.pyplot as plt
    fr = data["fractions"]
    layers = data["layers"]
    x = np.arange(len(layers) + 1)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0))
    cmap = plt.get_cmap("viridis")
    for ax, method in zip(axes[:2], METHODS):
        for c, f in enumerate(fr):
            ax.plot(x, data["accuracy"][method][str(f)], "o-", ms=3, color=cmap(c / max(len(fr) - 1, 1)),
                    lw=2.4 if f == data["claim_fraction"] else 1.2, label=f"f = {f:g} of each layer")
        ax.axhline(data["full_accuracy"], color="0.4", ls="--", lw=1)
        ax.set_xticks(x)
        ax.set_xticklabels(["0"] + [f"{i + 1}\n(+{n})" for i, n in enumerate(layers)], fontsize=8)
        ax.set_xlabel("number of top layers compressed")
        ax.set_title(f"directions: SVCCA {'between net 1 and net 2' if method == 'two nets' else 'with the logits'}",
                     fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (no retraining)")
    axes[0].legend(fontsize=7, loc="lower left")
    lo = min(min(row) for m in METHODS for row in data["accuracy"][m].values())
    for ax in axes[:2]:
        ax.set_ylim(max(0.0, lo - 0.03), 1.01)
    ax = axes[2]
    for c, method in enumerate(METHODS):
        ax.plot(fr, [data["accuracy"][method][str(f)][-1] for f in fr], "o-", ms=4, color=f"C{c}",
                label=f"SVCCA {'between nets' if method == 'two nets' else 'with logits'}")
    ax.axhline(data["full_accuracy"], color="0.4", ls="--", lw=1, label="full net")
    ax.axvline(data["claim_fraction"], color="0.6", ls=":", lw=1)
    ax.set_xlabel("size: fraction f of each layer's dimensions kept")
    ax.set_ylabel(f"test accuracy, all {len(layers)} top layers compressed")
    ax.set_title("all top layers compressed vs size", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.suptitle(f"SVCCA Fig A5: compressing the top layers onto their top SVCCA directions\n{stored_data_label(data)}",
                 fontsize=9)
    fig.tight_layout()
    return fig
