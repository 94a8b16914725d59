"""SVCCA paper (Raghu et al. 2017), appendix Fig A3: learning dynamics per layer -- the SVCCA
similarity of each layer at every training checkpoint with the same layer at the end of
training, against the training step, for the convnet and the ResNet.

Runs: :func:`paper_repro.runs.svcca_run` (the same runs as Fig 4, every checkpoint: 0, 5 %, ...,
100 % of training).  Layers, conv treatment (DFT method, ``conv="fft"``), data (the digits
training images, no translation) and measure (SVCCA, 0.99 of the sum of singular values):
:mod:`paper_repro.svcca_dynamics`, via ``fastcca.torch.compare_checkpoints(pairs="same")`` (one
streaming pass per checkpoint).  The ResNet's lines include the BN(conv) layers inside the blocks
(dashed, not in the legend).

Claim checked (bottom-up convergence): per layer, the mean similarity over the checkpoints before
the end (the area under its curve, as a fraction of training); the mean of that over the lower
third of the hidden layers is larger than over the upper third, in both nets ("in" -- the same at
every step -- and logits / out excluded).  Also reported: the Spearman correlation of the area
with depth, and the first step after which a layer stays >= 0.9.
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..classifiers import image_data
from ..registry import FigureInfo
from ..runs import svcca_run, svcca_runs_label
from ..svcca_dynamics import MEASURE, bottom_up, checkpoint_grids

INFO = FigureInfo(id="svcca-figA3", title="per-layer SVCCA with the final step vs training step",
                  time_small="~49 s", needs=("torch (CPU)", "the SVCCA convnet and ResNet runs (cached, shared)"))

CONFIGS = {
    "tiny": {"max_images": 200, "resnet_inner": True, "settled": 0.9},
    "small": {"max_images": None, "resnet_inner": True, "settled": 0.9},
    "paper": {"max_images": 10000, "resnet_inner": True, "settled": 0.9},   # CIFAR-10, 101 checkpoints
}
ARCHS = ("convnet", "resnet")


def settled_step(values, steps, level: float):
    """The first step from which ``values`` (one per step) stay >= level to the end (None if the
    last value is below it)."""
    v = np.asarray(values, dtype=np.float64)
    below = np.flatnonzero(v < level)
    if below.size == 0:
        return int(steps[0])
    if below[-1] == len(v) - 1:
        return None
    return int(steps[below[-1] + 1])


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    x, _ = image_data(ctx, train=True)
    if cfg["max_images"]:
        x = x[: cfg["max_images"]]
    out = {"n_images": int(len(x)), "images": "training images, no translation", "measure": MEASURE,
           "data_label": svcca_runs_label(ctx),
           "conv": "fft", "settled": cfg["settled"], "nets": {}}
    for arch in ARCHS:
        tcfg, run = svcca_run(ctx, arch)
        labels, mat = checkpoint_grids(ctx, tcfg, run["states"], x, "same",
                                       inner=cfg["resnet_inner"] if arch == "resnet" else True)
        out["nets"][arch] = {"labels": labels, "steps": run["checkpoints"], "similarity": mat.values}
    return out


def check(data) -> ClaimCheck:
    measured, ok = {}, True
    for arch, net in data["nets"].items():
        sim = np.asarray(net["similarity"], dtype=float)            # (layers, checkpoints)
        area = sim[:, :-1].mean(axis=1)
        bu = bottom_up(area, net["labels"])
        bu["settled_step"] = {l: settled_step(sim[i], net["steps"], data["settled"])
                              for i, l in enumerate(net["labels"]) if "/" not in l}
        measured[f"{arch}_mean_similarity_before_end"] = bu
        ok &= bu["lower_mean"] > bu["upper_mean"]
    return ClaimCheck(
        claim="learning converges bottom-up: lower layers reach their final representation earlier",
        statistic=("per layer, mean SVCCA with the final step over the checkpoints before the end; mean over the "
                   "lower third of the hidden layers > mean over the upper third (in, logits, out excluded), in "
                   "both nets. Also reported: Spearman(depth, mean) and the step after which each layer stays "
                   f">= {data['settled']}"),
        measured=measured, holds=bool(ok),
        comparison=tuple(vs(f"{arch}: mean SVCCA with the final step, lower third vs upper third of the layers", None,
                            f"{measured[f'{arch}_mean_similarity_before_end']['lower_mean']:.2f} vs "
                            f"{measured[f'{arch}_mean_similarity_before_end']['upper_mean']:.2f}") for arch in data["nets"]),
        note=("logits and softmax converge early in both nets (as in the paper's Fig 4, where they are bright "
              f"at 35 %); {stored_data_label(data)}"))


def draw(data):
    import matplotlib.pyplot as plt
    nets = data["nets"]
    fig, axes = plt.subplots(1, len(nets), figsize=(6.2 * len(nets), 4.8), squeeze=False, layout="constrained")
    for ax, (arch, net) in zip(axes[0], nets.items()):
        labels, steps = net["labels"], np.asarray(net["steps"])
        sim = np.asarray(net["similarity"], dtype=float)
        colors = plt.cm.viridis(np.linspace(0.0, 0.95, len(labels)))
        for i, l in enumerate(labels):
            inner = "/" in l
            ax.plot(steps, sim[i], color=colors[i], lw=0.8 if inner else 1.6, ls="--" if inner else "-",
                    label=None if inner else l)
        ax.set_xlabel("training step")
        ax.set_ylabel("SVCCA similarity with the final step")
        ax.set_ylim(0.0, 1.02)
        name = "Convnet" if arch == "convnet" else "ResNet (dashed: BN(conv) inside the blocks)"
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=6, ncol=2, loc="lower right", title="layer (dark: low, yellow: high)",
                  title_fontsize=6)
        ax.grid(alpha=0.3)
    fig.get_layout_engine().set(rect=(0.0, 0.03, 1.0, 0.97))     # room for the runner's footer line
    fig.suptitle(f"SVCCA Fig A3: per-layer SVCCA similarity with the end of training "
                 f"({data['n_images']} {data['images']}; conv layers by DFT)", fontsize=11)
    return fig
