"""SVCCA paper (Raghu et al. 2017), Fig 3: the toy regression net's output when one hidden layer
is replaced by its projection onto the top-k SVCCA directions, k = 2, 6, 15, 30.

The SVCCA directions of net 1's layer come from SVCCA against the same layer of net 2 (the
second init of svcca-fig1; same cached runs), keeping a fixed number of singular directions
(``svd_keep``, at least the largest k) so that 30 canonical directions exist.  "Projection onto
the top-k directions": every neuron's centred activation vector is replaced by its least-squares
fit from the top-k canonical variates (:func:`paper_repro.analysis.project_onto_variates`),
then the forward pass continues from that layer.  Measured: the relative error
``||out_k - out_full||^2 / ||out_full - mean||^2`` per k, for the drawn layer and every other
hidden layer.
"""
from __future__ import annotations

import numpy as np

from ..analysis import project_onto_variates, svcca_directions
from ..claims import ClaimCheck, vs
from ..data import TOY_FUNCTIONS
from ..registry import FigureInfo
from ..toy import TOY_CONFIGS, activations, output_from, toy_nets

INFO = FigureInfo(id="svcca-fig3", title="toy net output: full vs projection onto top 2/6/15/30 SVCCA directions",
                  time_small="~13 s",
                  needs=("torch (CPU)", "toy nets (cached, shared with svcca-fig1)"))

CONFIGS = {
    "tiny": {"toy": TOY_CONFIGS["tiny"], "ks": [1, 2, 4, 8], "svd_keep": 8, "layer": 2},
    "small": {"toy": TOY_CONFIGS["small"], "ks": [2, 6, 15, 30], "svd_keep": 30, "layer": 2},
    "paper": {"toy": TOY_CONFIGS["paper"], "ks": [2, 6, 15, 30], "svd_keep": 30, "layer": 2},
}


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    nets = toy_nets(ctx, 2)
    x = nets["x"]
    m1, m2 = nets["models"]
    a1, a2 = activations(m1, x), activations(m2, x)
    full = output_from(m1, len(a1) - 1, a1[-1])
    ks = cfg["ks"]
    rel_err = {}
    drawn = {}
    for layer in ctx.track(range(len(a1)), "layers"):
        sv = svcca_directions(a1[layer], a2[layer], keep=int(cfg["svd_keep"]), backend=ctx.fastcca_backend)
        errs = []
        for k in ks:
            kk = min(k, sv["variates_x"].shape[1])
            h = project_onto_variates(a1[layer], sv["variates_x"][:, :kk])
            out = output_from(m1, layer, h)
            errs.append(float(((out - full) ** 2).sum() / ((full - full.mean(0)) ** 2).sum()))
            if layer == cfg["layer"]:
                drawn[str(k)] = out
        rel_err[f"hidden{layer + 1}"] = errs
        if layer == cfg["layer"]:
            drawn_rho = sv["rho"]
    return {"x": x[:, 0], "targets": nets["y"], "full_output": full, "ks": ks, "layer": cfg["layer"] + 1,
            "width": a1[0].shape[1], "projected_outputs": drawn, "rel_err": rel_err, "rho": drawn_rho,
            "functions": list(TOY_FUNCTIONS),
            "data_label": (f"synthetic toy regression (1-D input, 4 targets, {len(x)} points); MLP "
                           f"{nets['config']['depth']} x {nets['config']['width']} tanh units")}


def check(data) -> ClaimCheck:
    errs = data["rel_err"][f"hidden{data['layer']}"]
    ks = data["ks"]
    decreasing = all(b <= a * 1.05 + 1e-6 for a, b in zip(errs, errs[1:]))
    holds = errs[-1] < 0.01 and decreasing
    return ClaimCheck(
        claim=f"projecting a layer onto its top SVCCA directions keeps the output: by {ks[-1]} directions it matches",
        statistic=(f"relative squared error of the output after projecting hidden layer {data['layer']} "
                   f"onto the top k SVCCA directions; holds iff it is < 0.01 at k = {ks[-1]} and "
                   "(nearly) non-increasing in k"),
        measured={"ks": ks, "rel_err": errs, "rel_err_all_layers": data["rel_err"]},
        holds=bool(holds),
        comparison=(vs(f"relative output error with {ks[-1]} SVCCA directions", "~0 (output matches by 30 directions; "
                       "no number given)", errs[-1], "Raghu et al. 2017, Fig 3"),),
        note=data.get("data_label", ""))


def draw(data):
    import matplotlib.pyplot as plt
    x = np.asarray(data["x"])
    full = np.asarray(data["full_output"])
    ks = data["ks"]
    fig, axes = plt.subplots(1, len(ks) + 1, figsize=(3.2 * (len(ks) + 1), 3.6))
    cmap = plt.get_cmap("tab10")
    for c, k in enumerate(ks):
        ax = axes[c]
        pr = np.asarray(data["projected_outputs"][str(k)])
        for j in range(full.shape[1]):
            ax.plot(x, full[:, j], color=cmap(j), lw=2.5, alpha=0.35)
            ax.plot(x, pr[:, j], color=cmap(j), lw=1.0)
        err = data["rel_err"][f"hidden{data['layer']}"][c]
        ax.set_title(f"top {k} SVCCA dirs (rel. err {err:.2g})", fontsize=9)
        ax.set_xlabel("input x")
    axes[0].set_ylabel("output (thick: full net,\nthin: layer projected)")
    ax = axes[-1]
    for name, errs in data["rel_err"].items():
        ax.plot(ks, np.maximum(errs, 1e-12), marker="o", ms=3, label=name,
                lw=2.0 if name == f"hidden{data['layer']}" else 1.0)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ks)
    ax.set_xticks([], minor=True)
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("k (SVCCA directions kept)")
    ax.set_ylabel("relative output error")
    ax.legend(fontsize=7)
    ax.set_title("every hidden layer", fontsize=9)
    fig.suptitle(f"SVCCA Fig 3: toy net output with hidden layer {data['layer']} ({data['width']} units) "
                 f"projected onto its top-k SVCCA directions", fontsize=11)
    fig.tight_layout()
    return fig
