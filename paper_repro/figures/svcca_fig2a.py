"""SVCCA paper (Raghu et al. 2017), Fig 2a: test accuracy after projecting one layer of a trained
convnet onto its top-k SVCCA directions (no retraining), against two neuron baselines.

Nets: the two SVCCA convnets of :func:`paper_repro.runs.svcca_run` (seeds ``seed`` and
``seed + 1``, final checkpoint; digits with 1-pixel translations at the default scale, shared with
the other SVCCA figures through the cache).  Layers p2, fc1, fc2 (the paper's "pool1, fc1, fc2"
of its convnet: the last pooling layer and the two dense layers); a conv layer's every
(channel, position) is one neuron (flattened).

SVCCA subspace of a layer: SVCCA between that layer of net 1 and the same layer of net 2 (keep
0.99 of the sum of singular values, then CCA; :func:`paper_repro.analysis.svcca_directions`),
on the training images; the top-k directions are net 1's first k canonical directions (largest
rho).  Projection: every neuron of net 1's layer is replaced by its least-squares fit from the k
canonical variates (:func:`paper_repro.compress.subspace_projector`, fitted on the training images,
applied to the test images), and the forward pass continues from there
(:func:`paper_repro.compress.accuracy_with`; same as ``model.forward_from``).  The SVCCA curve ends
at the number of canonical directions m = min(k_x, k_y).

Baselines (every other neuron set to its MEAN over the training images, not to zero):
"random" keeps k neurons drawn uniformly (mean and spread over ``random_draws`` draws), "max
activation" keeps the k neurons with the largest mean |activation| (mean activation for these
ReLU / max-pool layers).  Measured: k_needed = the smallest k whose test accuracy is within
``tol`` of the unprojected net's.
"""
from __future__ import annotations

import numpy as np

from ..analysis import svcca_directions
from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..compress import (accuracy_with, max_activation_neurons, neuron_projector, subspace_projector,
                        svcca_convnet_pair)
from ..registry import FigureInfo

INFO = FigureInfo(id="svcca-fig2a", title="accuracy vs k after projecting a layer onto its top-k SVCCA subspace",
                  time_small="~50 s",
                  needs=("torch (CPU)", "two SVCCA convnets (cached, shared with svcca-fig2b, figA5, fig4, ...)"))

LAYERS = ["p2", "fc1", "fc2"]
CONFIGS = {
    "tiny": {"layers": LAYERS, "ks": [1, 2, 4, 8, 16, 32], "random_draws": 2, "keep": 0.99, "tol": 0.01,
             "fit_max": None},
    "small": {"layers": LAYERS, "ks": [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128],
              "random_draws": 5, "keep": 0.99, "tol": 0.01, "fit_max": None},
    "paper": {"layers": LAYERS, "ks": [1, 2, 4, 8, 12, 16, 25, 32, 50, 64, 100, 128, 200, 256, 384, 512, 1024,
                                       2048, 4096, 8192],
              "random_draws": 5, "keep": 0.99, "tol": 0.01, "fit_max": 10000},
}
CLAIM_LAYER = "fc1"


def k_needed(ks, accs, target):
    """The smallest k whose accuracy reaches ``target`` (None if none does)."""
    for k, a in zip(ks, accs):
        if a is not None and np.isfinite(a) and a >= target:
            return int(k)
    return None


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    pair = svcca_convnet_pair(ctx, cfg["layers"], cfg["fit_max"])
    net, (a1, a2) = pair["models"][0], pair["fit"]
    xt, yt = pair["x_test"], pair["y_test"]
    full = accuracy_with(net, xt, yt, {})
    rng = np.random.default_rng([ctx.seed, 2])
    out = {"full_accuracy": full, "tol": cfg["tol"], "layers": {}, "n_fit": len(a1[cfg["layers"][0]]),
           "n_test": len(yt), "data_label": pair["data_label"]}
    for name in ctx.track(cfg["layers"], "projections per layer"):
        i = net.layer_names.index(name)
        h = a1[name]
        p = h.shape[1]
        sv = svcca_directions(h, a2[name], keep=cfg["keep"], backend=ctx.fastcca_backend)
        m = sv["dirs_x"].shape[1]
        ks = sorted({k for k in cfg["ks"] if k <= p} | {p})
        svcca_acc, max_acc, rand_mean, rand_sd = [], [], [], []
        for k in ks:
            svcca_acc.append(accuracy_with(net, xt, yt, {i: subspace_projector(h, sv["dirs_x"][:, :k])})
                             if k <= m else None)
            max_acc.append(accuracy_with(net, xt, yt, {i: neuron_projector(h, max_activation_neurons(h, k))}))
            r = [accuracy_with(net, xt, yt, {i: neuron_projector(h, rng.choice(p, size=k, replace=False))})
                 for _ in range(cfg["random_draws"])]
            rand_mean.append(float(np.mean(r)))
            rand_sd.append(float(np.std(r)))
        target = full - cfg["tol"]
        out["layers"][name] = {
            "width": p, "n_directions": m, "k_x": sv["k_x"], "k_y": sv["k_y"], "rho": sv["rho"], "ks": ks,
            "svcca": svcca_acc, "max_activation": max_acc, "random_mean": rand_mean, "random_sd": rand_sd,
            "k_needed": {"svcca": k_needed(ks, svcca_acc, target), "max_activation": k_needed(ks, max_acc, target),
                         "random": k_needed(ks, rand_mean, target)}}
    return out


def check(data) -> ClaimCheck:
    kn = {name: d["k_needed"] for name, d in data["layers"].items()}
    d = data["layers"][CLAIM_LAYER]
    ks, width = kn[CLAIM_LAYER], d["width"]
    s = ks["svcca"]
    holds = (s is not None and s <= 0.25 * width
             and all(ks[b] is None or ks[b] >= 2 * s for b in ("random", "max_activation")))
    return ClaimCheck(
        claim=("a few SVCCA directions of a layer keep nearly all of the net's accuracy (paper: ~25 of 512 fc1 "
               "dimensions); keeping k random or k max-activation neurons needs far more"),
        statistic=(f"k_needed = smallest k whose test accuracy is within {data['tol']} of the full net's "
                   f"({data['full_accuracy']:.4f}); holds iff on {CLAIM_LAYER} k_needed(SVCCA) <= 0.25 x width "
                   f"and both baselines need >= 2x as many"),
        measured={"k_needed": kn, "width": {n: v["width"] for n, v in data["layers"].items()},
                  "full_accuracy": data["full_accuracy"],
                  "fraction_of_width_svcca": {n: (v["k_needed"]["svcca"] / v["width"]
                                                  if v["k_needed"]["svcca"] else None)
                                              for n, v in data["layers"].items()}},
        holds=bool(holds),
        comparison=(vs(f"SVCCA directions of {CLAIM_LAYER} keeping the accuracy", "~25 of 512", f"{s} of {width}",
                       "Raghu et al. 2017, Fig 2a"),
                    vs("max-activation / random neurons needed (same tolerance)", None,
                       f"{ks['max_activation']} / {ks['random']} of {width}")),
        note=(f"{stored_data_label(data)}; with 10 classes about classes - 1 directions carry the decision "
              "(CIFAR-10 has 10 classes too)"))


def draw(data):
    import matplotlib.pyplot as plt
    names = list(data["layers"])
    fig, axes = plt.subplots(1, len(names), figsize=(4.3 * len(names), 3.8), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names):
        d = data["layers"][name]
        ks = np.asarray(d["ks"], dtype=float)
        sv = np.asarray([np.nan if a is None else a for a in d["svcca"]], dtype=float)
        rm, rs = np.asarray(d["random_mean"]), np.asarray(d["random_sd"])
        ax.plot(ks, sv, "o-", ms=3, lw=2, color="C0", label="top-k SVCCA directions")
        ax.plot(ks, d["max_activation"], "s-", ms=3, color="C1", label="k max-activation neurons")
        ax.plot(ks, rm, "^-", ms=3, color="C2", label="k random neurons (mean)")
        ax.fill_between(ks, rm - rs, rm + rs, color="C2", alpha=0.2, lw=0)
        ax.axhline(data["full_accuracy"], color="0.3", ls="--", lw=1, label="full net")
        kn = d["k_needed"]["svcca"]
        if kn:
            ax.axvline(kn, color="C0", ls=":", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (directions or neurons kept)")
        ax.set_title(f"{name} ({d['width']} neurons, {d['n_directions']} SVCCA dirs)\n"
                     f"within {data['tol']} of full at k = {kn} (SVCCA), "
                     f"{d['k_needed']['max_activation']} (max), {d['k_needed']['random']} (random)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (layer projected, no retraining)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("SVCCA Fig 2a: accuracy after projecting one layer onto its top-k SVCCA directions "
                 f"(net 1 vs net 2) vs keeping k neurons (others at their mean)\n{stored_data_label(data)}", fontsize=9)
    fig.tight_layout()
    return fig
