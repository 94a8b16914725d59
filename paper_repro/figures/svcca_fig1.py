"""SVCCA paper (Raghu et al. 2017), Fig 1: two toy regression nets from different random inits;
(a) the nets' outputs; (b) the most active neurons, (c) the top SVD directions and (d) the top
SVCCA directions of one hidden layer, over the dataset index, net 1 vs net 2.

Nets: :mod:`paper_repro.toy` (1-D input, 4 hidden tanh layers -- 200 wide at paper scale, 100 at
the default scale -- 4-D output regressing sin(pi x), cos(pi x), 2x^2-1, 2|x|-1).  Layer: the
last hidden layer (the penultimate layer of the net).  "Most active" = largest standard
deviation over the dataset.  SVD directions: the centred activations projected on the top
right singular vectors.  SVCCA directions: canonical variates after keeping 0.99 of the sum of
singular values (fastcca.svcca, then fastcca.cca(weights=True) on the reduced data).  Every
curve is standardised (zero mean, unit variance) so shapes compare; SVD and SVCCA directions
have arbitrary sign, so net 2's curve is flipped to correlate positively with net 1's.
"""
from __future__ import annotations

import numpy as np

from ..analysis import corr, svcca_directions
from ..claims import ClaimCheck, vs
from ..registry import FigureInfo
from ..toy import TOY_CONFIGS, activations, toy_nets

INFO = FigureInfo(id="svcca-fig1", title="toy regression, two inits: neurons vs SVD vs SVCCA directions",
                  time_small="~12 s", needs=("torch (CPU)", "toy nets (cached, shared with svcca-fig3)"))

CONFIGS = {s: {"toy": TOY_CONFIGS[s], "top": 3, "keep": 0.99} for s in TOY_CONFIGS}


def _std(v):
    v = np.asarray(v, dtype=np.float64)
    s = v.std()
    return (v - v.mean()) / s if s > 0 else v - v.mean()


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    nets = toy_nets(ctx, 2)
    x, y = nets["x"], nets["y"]
    import torch
    from ..training import host
    with torch.no_grad():
        outs = [host(m(torch.as_tensor(x, device=ctx.torch_device))) for m in nets["models"]]
    layer = len(activations(nets["models"][0], x[:1])) - 1
    h1, h2 = (activations(m, x)[layer] for m in nets["models"])
    top = cfg["top"]
    sv = svcca_directions(h1, h2, keep=cfg["keep"], backend=ctx.fastcca_backend)
    top = min(top, len(sv["rho"]))
    panels = {}
    neur = [np.argsort(-h.std(0))[:top] for h in (h1, h2)]
    panels["neurons"] = ([_std(h1[:, j]) for j in neur[0]], [_std(h2[:, j]) for j in neur[1]])
    panels["svd"] = ([_std(sv["svd_x"][:, i]) for i in range(top)], [_std(sv["svd_y"][:, i]) for i in range(top)])
    panels["svcca"] = ([_std(sv["variates_x"][:, i]) for i in range(top)],
                       [_std(sv["variates_y"][:, i]) for i in range(top)])
    out = {"x": x[:, 0], "targets": y, "outputs": outs, "final_loss": [float(l[-1]) for l in nets["losses"]],
           "layer": layer + 1, "width": h1.shape[1], "k_x": sv["k_x"], "k_y": sv["k_y"],
           "svcca_similarity": sv["similarity"], "rho": sv["rho"], "max_coef_diff": sv["max_coef_diff"],
           "top_neurons": [n.tolist() for n in neur], "panels": {}, "abs_corr": {}}
    for name, (a, b) in panels.items():
        signs = [1.0 if corr(u, v) >= 0 else -1.0 for u, v in zip(a, b)]
        # neurons keep their sign (a neuron's sign is meaningful); directions are sign-free
        if name == "neurons":
            signs = [1.0] * len(a)
        out["panels"][name] = {"net1": a, "net2": [s * v for s, v in zip(signs, b)]}
        out["abs_corr"][name] = [abs(corr(u, v)) for u, v in zip(a, b)]
    out["data_label"] = (f"synthetic toy regression (1-D input, 4 targets, {len(x)} points); MLP "
                         f"{nets['config']['depth']} x {nets['config']['width']} tanh units, {nets['config']['steps']} "
                         "full-batch Adam steps")
    return out


def check(data) -> ClaimCheck:
    ac = data["abs_corr"]
    mismatch = {k: float(np.mean(1.0 - np.asarray(v))) for k, v in ac.items()}
    ratio = mismatch["neurons"] / max(mismatch["svcca"], 1e-12)
    holds = min(ac["svcca"]) >= 0.95 and ratio >= 10.0
    return ClaimCheck(
        claim="the nets' neurons differ, but their top SVCCA directions match (up to sign)",
        statistic=(f"|corr| between net 1's and net 2's i-th curve, i < {len(ac['svcca'])}, and the mismatch "
                   "1 - |corr|: holds iff every SVCCA pair has |corr| >= 0.95 and the neurons' mean mismatch "
                   "is >= 10x the SVCCA directions' (on a 1-D input every smooth neuron correlates well with "
                   "every other, so |corr| alone is a weak test of 'neurons differ')"),
        measured={"abs_corr_neurons": ac["neurons"], "abs_corr_svd": ac["svd"], "abs_corr_svcca": ac["svcca"],
                  "mean_mismatch": mismatch, "mismatch_ratio_neurons_over_svcca": ratio,
                  "svcca_similarity": data["svcca_similarity"]},
        holds=bool(holds),
        comparison=(vs("min |corr| of the top SVCCA directions (net 1 vs net 2)", "~1 (curves overlap up to sign; "
                       "no number given)", min(ac["svcca"]), "Raghu et al. 2017, Fig 1d"),
                    vs("mean |corr| of the top neurons (net 1 vs net 2)", None, float(np.mean(ac["neurons"])))),
        note=data.get("data_label", ""))


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 4, figsize=(14, 5.8))
    x = np.asarray(data["x"])
    idx = np.arange(len(x))
    tg = np.asarray(data["targets"])
    for r in range(2):
        ax = axes[r, 0]
        o = np.asarray(data["outputs"][r])
        for j in range(tg.shape[1]):
            ax.plot(x, tg[:, j], color="0.7", lw=2.5)
            ax.plot(x, o[:, j], lw=1.0)
        ax.set_title(f"(a) net {r + 1}: outputs vs targets (grey)", fontsize=9)
        ax.set_xlabel("input x")
    titles = {"neurons": "(b) most active neurons", "svd": "(c) top SVD directions",
              "svcca": "(d) top SVCCA directions"}
    colors = ["tab:blue", "tab:orange", "tab:green"]
    for c, name in enumerate(["neurons", "svd", "svcca"], start=1):
        p = data["panels"][name]
        for r, net in enumerate(["net1", "net2"]):
            ax = axes[r, c]
            for i, v in enumerate(p[net]):
                ax.plot(idx, np.asarray(v) + 3.0 * i, color=colors[i % 3], lw=1.0)
            ax.set_yticks([])
            ax.set_title(f"{titles[name]}, net {r + 1}", fontsize=9)
            if r == 1:
                ax.set_xlabel("dataset index")
        txt = ", ".join(f"{v:.2f}" for v in data["abs_corr"][name])
        axes[1, c].text(0.02, -0.32, f"|corr| net1 vs net2: {txt}", transform=axes[1, c].transAxes, fontsize=8)
    fig.suptitle(f"SVCCA Fig 1: toy regression, hidden layer {data['layer']} ({data['width']} units); "
                 f"SVCCA keeps {data['k_x']}/{data['k_y']} directions, similarity {data['svcca_similarity']:.3f}",
                 fontsize=11)
    fig.tight_layout()
    return fig
