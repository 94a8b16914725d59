"""SVCCA paper (Raghu et al. 2017), Fig 4: learning dynamics as layer x layer SVCCA heatmaps at
0 / 35 / 75 / 100 % of training -- entry (i, j) compares layer i of the network at that checkpoint
(y axis) with layer j of the same network at the end of training (x axis) -- for the convnet (top
row) and the ResNet (bottom row).

Runs: :func:`paper_repro.runs.svcca_run` (digits with 1-pixel random translations at the default
scale, checkpoints every 5 % of training; the checkpoint nearest to each fraction is used and its
actual fraction is in the titles).  Layers, conv treatment (the DFT method, ``conv="fft"``: conv
pairs per spatial frequency, different spatial sizes on their overlapping low frequencies, a conv
layer against a dense one on its spatial mean), data (the 1437 digits training images) and
measure (SVCCA, 0.99 of the sum of singular values): :mod:`paper_repro.svcca_dynamics`, via
``fastcca.torch.compare_checkpoints(pairs="all")`` (one streaming pass per checkpoint).

Claims checked (paper sec. 4.1): (1) bottom-up convergence -- at 35 % of training the diagonal
(layer at 35 % vs the same layer at the end) is higher in the lower third of the hidden layers
than in the upper third, in both nets; (2) BatchNorm layers form 2x2 blocks with the layer before
-- at the end of training each BN layer has SVCCA >= 0.9 with the layer below it and at least 0.1
more than with the layer two below; (3) residual stripes -- in the trained ResNet the
residual-stream layers (block outputs) stay similar to the stream at the other blocks of their
stage, more than pairs with a residual-branch layer (BN(conv) inside a block) are: over the pairs
of the same stage >= 3 layers apart, the ratio of the two means > 1.1.
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck
from ..classifiers import image_data
from ..registry import FigureInfo
from ..runs import svcca_run
from ..svcca_dynamics import (MEASURE, bn_blocks, bottom_up, checkpoint_grids, nearest_checkpoints,
                              residual_stripes)

INFO = FigureInfo(id="svcca-fig4", title="layer x layer SVCCA during training, convnet and ResNet",
                  time_small="~42 s", needs=("torch (CPU)", "the SVCCA convnet and ResNet runs (cached, shared)"))

_FRACTIONS = [0.0, 0.35, 0.75, 1.0]
CONFIGS = {
    "tiny": {"fractions": _FRACTIONS, "max_images": 200, "resnet_inner": True},
    "small": {"fractions": _FRACTIONS, "max_images": None, "resnet_inner": True},
    # paper: CIFAR-10 (the first 10000 training images); the ResNet's 30 blocks with their inner
    # BN(conv) layers: 93 layers, ~8600 pairs of per-frequency moments, ~13 GB (16 F c_a c_b bytes each)
    "paper": {"fractions": _FRACTIONS, "max_images": 10000, "resnet_inner": True},
}
ARCHS = ("convnet", "resnet")
BN_MIN, BN_CONTRAST, STRIPE_RATIO = 0.9, 0.1, 1.1


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    x, _ = image_data(ctx, train=True)
    if cfg["max_images"]:
        x = x[: cfg["max_images"]]
    out = {"n_images": int(len(x)), "images": "training images, no translation", "measure": MEASURE,
           "conv": "fft", "nets": {}}
    for arch in ARCHS:
        tcfg, run = svcca_run(ctx, arch)
        steps = run["checkpoints"]
        idx = nearest_checkpoints(steps, cfg["fractions"])
        if idx[-1] != len(steps) - 1:
            raise RuntimeError("the last fraction must be the end of training (1.0)")
        labels, mats = checkpoint_grids(ctx, tcfg, [run["states"][i] for i in idx], x, "all",
                                        inner=cfg["resnet_inner"] if arch == "resnet" else True)
        out["nets"][arch] = {"labels": labels, "steps": [steps[i] for i in idx], "total_steps": steps[-1],
                             "fractions": [steps[i] / steps[-1] for i in idx],
                             "grids": [m.values for m in mats]}
    return out


def _diag_at(net, fraction):
    k = int(np.argmin(np.abs(np.asarray(net["fractions"]) - fraction)))
    return np.diag(np.asarray(net["grids"][k], dtype=float)), net["fractions"][k]


def check(data) -> ClaimCheck:
    measured, ok = {}, True
    for arch, net in data["nets"].items():
        diag, frac = _diag_at(net, 0.35)
        bu = bottom_up(diag, net["labels"])
        bu["fraction"] = frac
        final = np.asarray(net["grids"][-1], dtype=float)
        bn = bn_blocks(final, net["labels"])
        measured[f"{arch}_bottom_up_at_35pct"] = bu
        measured[f"{arch}_bn_blocks_at_end"] = bn
        ok &= bu["lower_mean"] > bu["upper_mean"]
        ok &= all(b["with_previous"] >= BN_MIN and b["with_previous"] - b["with_two_below"] >= BN_CONTRAST
                  for b in bn.values())
        if arch == "resnet":
            st = residual_stripes(final, net["labels"])
            measured["resnet_stripes_at_end"] = st
            ok &= st["n_branch_pairs"] > 0 and st["ratio"] > STRIPE_RATIO
    return ClaimCheck(
        claim=("learning converges bottom-up; BN layers form 2x2 blocks with the layer before; the "
               "ResNet shows residual stripes"),
        statistic=(f"(1) diagonal SVCCA at the checkpoint nearest 35 %: mean over the lower third of the hidden "
                   f"layers > mean over the upper third (in, logits, out excluded), both nets; (2) at the end, every "
                   f"BN layer's SVCCA with the layer below >= {BN_MIN} and >= {BN_CONTRAST} above its SVCCA with the "
                   f"layer two below; (3) trained ResNet, pairs of layers of the same stage >= 3 apart: mean SVCCA of "
                   f"block-output pairs / mean of pairs with a BN(conv) branch layer > {STRIPE_RATIO}. Holds iff all three hold"),
        measured=measured, holds=bool(ok),
        note=("digits (8x8, 1 channel), narrow nets, 2000 steps; similarity values off the diagonal are much "
              "higher than in the published CIFAR-10 heatmaps (0.4-0.7 vs ~0.1-0.2), see docs/paper-repro-groups.md"))


def draw(data):
    import matplotlib.pyplot as plt
    nets = data["nets"]
    ncol = max(len(n["grids"]) for n in nets.values())
    fig, axes = plt.subplots(len(nets), ncol, figsize=(3.3 * ncol + 1.2, 3.6 * len(nets) + 0.6), squeeze=False,
                             layout="constrained")
    im = None
    for r, (arch, net) in enumerate(nets.items()):
        labels = net["labels"]
        fs = 6 if len(labels) <= 20 else 3.5
        for c, (g, frac, step) in enumerate(zip(net["grids"], net["fractions"], net["steps"])):
            ax = axes[r, c]
            im = ax.imshow(np.asarray(g, dtype=float), origin="lower", vmin=0.0, vmax=1.0, cmap="viridis",
                           interpolation="nearest")
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, rotation=90, fontsize=fs)
            ax.set_yticks(range(len(labels)))
            ax.set_yticklabels(labels, fontsize=fs)
            if r == 0:
                ax.set_title(f"{100 * frac:.0f}% trained (step {step}/{net['total_steps']})", fontsize=10)
            if r == len(nets) - 1:
                ax.set_xlabel("layer (end of training)")
            if c == 0:
                ax.set_ylabel(f"{'Convnet' if arch == 'convnet' else 'ResNet'}, digits\nlayer (during training)")
    fig.colorbar(im, ax=axes, shrink=0.6, label="SVCCA similarity")
    fig.suptitle(f"SVCCA Fig 4: layer x layer SVCCA similarity during training vs the end "
                 f"({data['n_images']} {data['images']}; conv layers by DFT)", fontsize=11)
    return fig
