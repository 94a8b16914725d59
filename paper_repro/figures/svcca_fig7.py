"""SVCCA paper (Raghu et al. 2017), Fig 7 (sec. 6, "across networks"): DFT CCA similarity
between the conv layers of a ResNet and the conv layers of a convnet trained on the same data.

Nets: the shared SVCCA runs (:func:`paper_repro.runs.svcca_run`, "resnet" and "convnet"; digits
with 1-pixel translations at the default scale, CIFAR-10 at paper scale), final checkpoints.
Layers: every conv-map layer of each net (ResNet: conv, r1.1 ... r3.<blocks>, bn; convnet: c1, c2,
bn1, p1, c3, c4, c5, bn2, p2); the dense layers are left out (against a conv map they compare
the DC frequency only, see :mod:`fastcca.torch`).  Activations are captured in one pass of the
training images through both nets with :func:`fastcca.torch.record` (``conv="fft"``).

Similarity of a pair: SVCCA with the DFT (:func:`fastcca.conv_svcca`, ``mode="fft"``: per
frequency c1 x c2 CCA blocks, the SV step on the pooled spectrum, keep 0.99 by the sum rule);
layers of different spatial sizes compare their overlapping low frequencies (an 8x8 layer
against a 2x2 one: the 2x2 lowest frequencies).  The DFT method is exact for a dataset closed
under circular shifts; translated digits are only approximately so.  Drawn: the trained nets,
their mean CCA (DFT), and the same SVCCA at initialisation (step 0) as a baseline -- random
conv features of the same images are themselves similar at low layers.

Memory (fastcca.torch's formula, module docstring): the per-frequency moments of every pair are
held at once -- about 2 MB at the default scale, about 1.5 GB at ``--scale paper`` (32 ResNet x 9
convnet conv layers on 32x32 CIFAR-10 images).

Claim check: "low layers similar; similarity falls with depth", on the depth-matched pairs
(:func:`depth_matched`): each ResNet layer with the convnet layer at the nearest relative depth.
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..classifiers import image_data
from ..registry import FigureInfo
from ..runs import svcca_run, svcca_runs_label

INFO = FigureInfo(id="svcca-fig7", title="DFT-CCA heatmap: ResNet conv layers vs convnet layers",
                  time_small="~30 s",
                  needs=("torch (CPU)", "scikit-learn digits (paper scale: CIFAR-10 from --data-dir)"))

CONFIGS = {
    "tiny": {"n_images": 200, "batch": 100, "keep": 0.99},
    "small": {"n_images": None, "batch": 256, "keep": 0.99},
    "paper": {"n_images": 10000, "batch": 500, "keep": 0.99},
}


def conv_layers(model, x: np.ndarray) -> list:
    """(module name, layer name) of every stage of ``model`` (a paper_repro classifier) whose
    output is a conv map, in forward order, found by one forward pass of the images ``x[:2]``."""
    import torch
    was = model.training
    model.eval()
    from ..training import model_device
    with torch.no_grad():
        hs = model.hidden(torch.as_tensor(x[:2], device=model_device(model)))
    model.train(was)
    # hs = [in, stage outputs ..., softmax]; stage i's output is hs[i + 1]
    return [(f"stages.{i}", model.layer_names[i + 1]) for i in range(len(model.stages)) if hs[i + 1].dim() == 4]


def relative_depth(n: int) -> np.ndarray:
    """Positions 0 .. n-1 of n layers as fractions of the stack: (i + 1) / n (the last layer is 1)."""
    return (np.arange(n) + 1.0) / n


def depth_matched(values: np.ndarray) -> tuple:
    """For a (rows, columns) grid of two stacks of layers (rows: net A bottom-up, columns: net B
    bottom-up), each row's value at the column of the nearest relative depth (ties: the lower
    column).  Returns (column index per row, values per row, relative depth per row)."""
    v = np.asarray(values, dtype=float)
    dr, dc = relative_depth(v.shape[0]), relative_depth(v.shape[1])
    cols = np.array([int(np.argmin(np.abs(dc - d))) for d in dr])
    return cols, v[np.arange(v.shape[0]), cols], dr


def spearman(a, b) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


def _record(models, layers, x, batch, backend):
    import fastcca.torch as ft
    from ..svcca_dynamics import batches
    from ..training import model_device
    data = batches(x, batch, device=model_device(models[0]))
    return ft.record(models[0], [m for m, _ in layers[0]], data, model_b=models[1],
                     layers_b=[m for m, _ in layers[1]], labels=("ResNet", "convnet"), conv="fft",
                     backend=backend, progress=False)


def compute(ctx) -> dict:
    from ..training import load_model
    cfg = ctx.config(CONFIGS)
    (cr, rr), (cc, rc) = svcca_run(ctx, "resnet"), svcca_run(ctx, "convnet")
    x, _ = image_data(ctx, train=True)
    if cfg["n_images"] is not None:
        x = x[: cfg["n_images"]]
    out = {"n_datapoints": int(len(x)), "keep": cfg["keep"], "steps": {"resnet": rr["checkpoints"][-1],
                                                                        "convnet": rc["checkpoints"][-1]}}
    for tag, which in (("trained", -1), ("init", 0)):
        models = (load_model(cr, rr["states"][which], device=ctx.torch_device),
                  load_model(cc, rc["states"][which], device=ctx.torch_device))
        layers = [conv_layers(m, x) for m in models]
        rec = _record(models, layers, x, cfg["batch"], ctx.fastcca_backend)
        out[tag] = {"svcca": rec.grid(measure="svcca", keep=cfg["keep"]).values}
        if tag == "trained":
            out[tag]["cca"] = rec.grid(measure="cca").values
            out["resnet_layers"] = [n for _, n in layers[0]]
            out["convnet_layers"] = [n for _, n in layers[1]]
            out["resnet_shapes"] = [list(rec.layers[("ResNet", m)].shape) for m, _ in layers[0]]
            out["convnet_shapes"] = [list(rec.layers[("convnet", m)].shape) for m, _ in layers[1]]
    out["data_label"] = svcca_runs_label(ctx)
    return out


def check(data) -> ClaimCheck:
    v = np.asarray(data["trained"]["svcca"], dtype=float)
    v0 = np.asarray(data["init"]["svcca"], dtype=float)
    cols, matched, depth = depth_matched(v)
    rho = spearman(depth, matched)
    third = max(1, len(matched) // 3)
    low, high = float(matched[:third].mean()), float(matched[-third:].mean())
    holds = rho < -0.5 and low > high
    return ClaimCheck(
        claim="lower layers of a ResNet and a convnet are similar; similarity falls with depth",
        statistic=("SVCCA (DFT) of the trained nets along the depth-matched pairs (each ResNet conv layer with the "
                   "convnet conv layer at the nearest relative depth): holds iff the Spearman correlation of "
                   "similarity with depth is < -0.5 and the mean of the lowest third of the matched pairs exceeds "
                   "the mean of the highest third"),
        measured={"spearman_depth": rho, "low_third_mean": low, "high_third_mean": high,
                  "matched_pairs": [[data["resnet_layers"][i], data["convnet_layers"][int(c)], float(s)]
                                    for i, (c, s) in enumerate(zip(cols, matched))],
                  "grid_max_at": [data["resnet_layers"][int(np.argmax(v) // v.shape[1])],
                                  data["convnet_layers"][int(np.argmax(v) % v.shape[1])]],
                  "at_init_spearman_depth": spearman(depth, depth_matched(v0)[1]),
                  "at_init_low_third_mean": float(depth_matched(v0)[1][:third].mean()),
                  "at_init_high_third_mean": float(depth_matched(v0)[1][-third:].mean())},
        holds=bool(holds),
        comparison=(vs("Spearman(depth, similarity) along depth-matched pairs", None, rho),
                    vs("lowest third vs highest third of the matched pairs", None, f"{low:.2f} vs {high:.2f}")),
        note=(f"{stored_data_label(data)}; a pair of layers of different spatial sizes is compared on their overlapping low frequencies only "
              "(2x2 of them for the deepest ResNet stage), so part of the fall with depth is the shrinking "
              "frequency overlap; the at-initialisation values (reported, not decided) show how much of the "
              "pattern random conv features of the same images already share"))


def draw(data):
    import matplotlib.pyplot as plt
    panels = [(data["trained"]["svcca"], "(a) trained: SVCCA (DFT) similarity"),
              (data["trained"]["cca"], "(b) trained: mean CCA (DFT) similarity"),
              (data["init"]["svcca"], "(c) at initialisation: SVCCA (DFT) similarity")]
    rl, cl = data["resnet_layers"], data["convnet_layers"]
    fig, axes = plt.subplots(1, 3, figsize=(15.5, 5.6))
    for ax, (vals, title) in zip(axes, panels):
        v = np.asarray(vals, dtype=float)
        im = ax.imshow(v, origin="lower", cmap="magma", vmin=0, vmax=1, aspect="auto")
        for i in range(v.shape[0] if v.size <= 200 else 0):           # values written on small grids only
            for j in range(v.shape[1]):
                ax.text(j, i, f"{v[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="black" if v[i, j] > 0.6 else "white")
        ax.set_xticks(range(len(cl)))
        ax.set_xticklabels([f"{n}\n{s[1]}x{s[2]}" for n, s in zip(cl, data["convnet_shapes"])], fontsize=7)
        ax.set_yticks(range(len(rl)))
        ax.set_yticklabels([f"{n} {s[1]}x{s[2]}" for n, s in zip(rl, data["resnet_shapes"])], fontsize=7)
        ax.set_xlabel("convnet layer (spatial size)")
        ax.set_ylabel("ResNet layer (spatial size)")
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="similarity")
    fig.suptitle(f"SVCCA Fig 7: DFT CCA of ResNet conv layers vs convnet conv layers ({data['n_datapoints']} training "
                 f"images, keep={data['keep']}; layers of different sizes compare their overlapping low frequencies)\n"
                 f"{stored_data_label(data)}", fontsize=9)
    fig.tight_layout(rect=(0, 0.01, 1, 0.95))
    return fig
