"""SVCCA paper (Raghu et al. 2017), appendix Fig A1: CCA is invariant to invertible linear maps
of the neurons -- a permutation, a rotation, a scaling -- so it recovers a neuron of one
representation from a transformed copy whose neurons all look different.

Layer: ``p`` tanh units of a random one-hidden-layer net on the toy regression input (1-D x on
[-1, 1], dataset index = x), plus a little fixed noise so the neurons are linearly independent.
Transformed copies ``y = x T + c``: T a permutation, a random rotation (orthogonal), a diagonal
scaling (factors log-uniform in [1/5, 5]) and all three composed, c a random shift.

Drawn: top row, the transformed layer's neurons over the dataset (neuron 0 highlighted); bottom
row, neuron 0 of the original layer (the least linear of its neurons) and its reconstruction from the transformed layer's
canonical variates (``fastcca.cca(..., weights=True)``), with the canonical correlations.
"""
from __future__ import annotations

import numpy as np

import fastcca

from ..analysis import corr
from ..claims import ClaimCheck, vs
from ..data import random_orthogonal, toy_regression
from ..registry import FigureInfo

INFO = FigureInfo(id="svcca-figA1", title="CCA is invariant to permutation, rotation and scaling of neurons",
                  time_small="~3 s", needs=("synthetic data", "fastcca core"))

CONFIGS = {
    "tiny": {"n": 100, "p": 5, "noise": 0.01},
    "small": {"n": 1000, "p": 10, "noise": 0.01},
    "paper": {"n": 1000, "p": 10, "noise": 0.01},
}
TRANSFORMS = ("original", "permuted", "rotated", "scaled", "all three")


def _transform(name, p, rng):
    perm = np.eye(p)[rng.permutation(p)]
    rot = random_orthogonal(p, rng)
    scale = np.diag(np.exp(rng.uniform(np.log(0.2), np.log(5.0), p)))
    return {"original": np.eye(p), "permuted": perm, "rotated": rot, "scaled": scale,
            "all three": rot @ scale @ perm}[name]


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    n, p = cfg["n"], cfg["p"]
    rng = np.random.default_rng([cfg["seed"], 11])
    x1, _ = toy_regression(n)
    w = rng.normal(0, 3.0, (1, p))
    b = rng.uniform(-2.0, 2.0, p)
    layer = np.tanh(x1.astype(np.float64) @ w + b) + cfg["noise"] * rng.standard_normal((n, p))
    # the neuron shown: the least linear one in x (largest residual of a straight-line fit)
    design = np.c_[np.ones(n), x1[:, 0]]
    resid = layer - design @ np.linalg.lstsq(design, layer, rcond=None)[0]
    j0 = int(np.argmax((resid ** 2).sum(0)))
    layer = np.c_[layer[:, j0], np.delete(layer, j0, axis=1)]      # make it neuron 0
    out = {"n": n, "p": p, "index": list(range(n)), "neuron0": layer[:, 0], "transforms": {},
           "data_label": f"synthetic layer ({p} random tanh neurons of the toy regression's {n} inputs)"}
    for name in TRANSFORMS:
        t = _transform(name, p, rng)
        y = layer @ t + (0 if name == "original" else rng.normal(0, 1, p))
        r = fastcca.cca(layer, y, weights=True, backend=ctx.fastcca_backend)
        vy = (y - y.mean(0)) @ r.y_weights                     # y's canonical variates (n, r)
        coef, *_ = np.linalg.lstsq(np.c_[np.ones(n), vy], layer[:, 0], rcond=None)
        recon = np.c_[np.ones(n), vy] @ coef
        resid = layer[:, 0] - recon
        r2 = 1.0 - float(resid @ resid) / float(((layer[:, 0] - layer[:, 0].mean()) ** 2).sum())
        best = max(abs(corr(layer[:, 0], y[:, j])) for j in range(p))
        out["transforms"][name] = {
            "neurons": y, "rho": r.coefficients, "min_rho": float(r.coefficients.min()),
            "neuron0_recon": recon, "recon_r2": r2,
            "corr_neuron0_same_index": abs(corr(layer[:, 0], y[:, 0])),
            "best_single_neuron_abs_corr": best}
    return out


def check(data) -> ClaimCheck:
    tr = data["transforms"]
    min_rho = {k: v["min_rho"] for k, v in tr.items()}
    r2 = {k: v["recon_r2"] for k, v in tr.items()}
    best_rot = tr["rotated"]["best_single_neuron_abs_corr"]
    holds = min(min_rho.values()) > 0.999 and min(r2.values()) > 0.999
    return ClaimCheck(
        claim="CCA is invariant to permutations, rotations (orthonormal maps) and scalings of the neurons",
        statistic=("holds iff every canonical correlation of layer vs transformed layer > 0.999 and neuron 0 "
                   "is reconstructed from the transformed layer's canonical variates with R^2 > 0.999 "
                   "(reported, not tested: the best single rotated neuron's R^2 = corr^2 with neuron 0)"),
        measured={"min_rho": min_rho, "recon_r2": r2, "rotated_best_single_neuron_r2": best_rot ** 2},
        holds=bool(holds),
        comparison=(vs("smallest canonical correlation, layer vs transformed layer", "1 (exact invariance)",
                       min(min_rho.values()), "Raghu et al. 2017, Fig A1"),))


def draw(data):
    import matplotlib.pyplot as plt
    names = list(data["transforms"])
    fig, axes = plt.subplots(2, len(names), figsize=(3.0 * len(names), 5.2), sharex=True)
    idx = np.asarray(data["index"])
    for j, name in enumerate(names):
        t = data["transforms"][name]
        neur = np.asarray(t["neurons"])
        ax = axes[0, j]
        ax.plot(idx, neur[:, 1:], color="0.75", lw=0.6)
        ax.plot(idx, neur[:, 0], color="tab:blue", lw=1.2, label="neuron 0")
        ax.set_title(name, fontsize=10)
        ax = axes[1, j]
        ax.plot(idx, data["neuron0"], color="k", lw=2.2, alpha=0.5, label="original neuron 0")
        ax.plot(idx, t["neuron0_recon"], color="tab:red", lw=1.0, ls="--", label="from CCA variates")
        ax.set_xlabel("dataset index")
        ax.text(0.03, 0.97, f"min rho {t['min_rho']:.4f}\nR^2 {t['recon_r2']:.4f}", transform=ax.transAxes,
                fontsize=7, va="top")
    axes[0, 0].set_ylabel("activations of the\n(transformed) layer")
    axes[1, 0].set_ylabel("neuron 0 of the original,\nrecovered by CCA")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[1, 0].legend(fontsize=7, loc="lower right")
    fig.suptitle("SVCCA Fig A1: CCA recovers a neuron through permutation, rotation and scaling", fontsize=11)
    fig.tight_layout()
    return fig
