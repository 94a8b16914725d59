"""SVCCA paper (Raghu et al. 2017), appendix Fig A4: layer x layer SVCCA between two trained
copies of the same convnet from different random initialisations (rows: the net with seed s,
columns: the net with seed s + 1).

Runs: :func:`paper_repro.runs.svcca_run` ("convnet", seeds ``ctx.seed`` and ``ctx.seed + 1``; the
first is the run of Fig 4 / A3, shared through the cache), end of training.  Layers, conv
treatment (DFT method, ``conv="fft"``), data (the digits training images, no translation) and
measure (SVCCA, 0.99 of the sum of singular values): :mod:`paper_repro.svcca_dynamics`, via one
``fastcca.torch.record`` pass with both nets and ``Recording.grid``.  Right panel: the diagonal
(layer l of one net against layer l of the other).

Claim checked (first and last layers similar, middle less so): on the diagonal, the first hidden
layer (c1) and the last layer (the softmax "out") are both more similar across the two inits than
the least similar middle layer, by at least 0.1, and the mean over the first and last two
layers (c1, c2; logits, out) exceeds the mean over the hidden layers between them ("in" -- the same
images for both nets, similarity 1 by construction -- excluded).
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..classifiers import image_data
from ..registry import FigureInfo
from ..runs import svcca_run, svcca_runs_label
from ..svcca_dynamics import MEASURE, NOT_HIDDEN, two_model_grid

INFO = FigureInfo(id="svcca-figA4", title="layer x layer SVCCA between two inits of the same convnet",
                  time_small="~21 s", needs=("torch (CPU)", "two SVCCA convnet runs (cached, one shared with Fig 4)"))

CONFIGS = {
    "tiny": {"max_images": 200},
    "small": {"max_images": None},
    "paper": {"max_images": 10000},          # CIFAR-10 training images
}
MARGIN = 0.1


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    x, _ = image_data(ctx, train=True)
    if cfg["max_images"]:
        x = x[: cfg["max_images"]]
    seeds = [cfg["seed"], cfg["seed"] + 1]
    (ca, ra), (cb, rb) = (svcca_run(ctx, "convnet", seed=s) for s in seeds)
    rows, cols, grid = two_model_grid(ctx, ca, ra["states"][-1], cb, rb["states"][-1], x)
    return {"n_images": int(len(x)), "images": "training images, no translation", "measure": MEASURE,
            "data_label": svcca_runs_label(ctx, ("convnet",)),
            "conv": "fft", "seeds": seeds, "steps": ra["checkpoints"][-1], "rows": rows, "columns": cols,
            "grid": grid.values}


def ends_vs_middle(diag, labels) -> dict:
    """The diagonal's first hidden layer, last layer and middle: ``labels`` bottom-up starting with
    "in" (excluded), ``diag`` one value per label.  first = labels[1], last = labels[-1]; ends =
    the first two and the last two layers after "in"; middle = the layers between them."""
    d = np.asarray(diag, dtype=np.float64)
    if len(labels) < 6 or labels[0] != "in":
        raise ValueError(f"labels: expected 'in' and at least 5 more layers, got {list(labels)}")
    ends = [1, 2, len(labels) - 2, len(labels) - 1]
    mid = list(range(3, len(labels) - 2))
    k = mid[int(np.argmin(d[mid]))]
    return {"first": labels[1], "first_value": float(d[1]), "last": labels[-1], "last_value": float(d[-1]),
            "ends": [labels[i] for i in ends], "ends_mean": float(d[ends].mean()),
            "middle": [labels[i] for i in mid], "middle_mean": float(d[mid].mean()),
            "middle_min_layer": labels[k], "middle_min": float(d[k])}


def diag_contrast(grid, labels, which) -> float:
    """Mean over the layers ``which`` of ``grid[i, i]`` minus the mean of the rest of row i and
    column i over the hidden layers (in, logits, out left out: "in" is identical in both nets, and
    the 10-dimensional logits / softmax match most of any layer's top directions): > 0 when a layer of one net is more similar to the SAME layer of the
    other net than to its other layers (reported, not part of the verdict)."""
    g = np.asarray(grid, dtype=np.float64)
    keep = [j for j, l in enumerate(labels) if l not in NOT_HIDDEN]
    out = []
    for l in which:
        i = list(labels).index(l)
        others = [j for j in keep if j != i]
        out.append(g[i, i] - np.concatenate([g[i, others], g[others, i]]).mean())
    return float(np.mean(out))


def check(data) -> ClaimCheck:
    g = np.asarray(data["grid"], dtype=float)
    st = ends_vs_middle(np.diag(g), data["rows"])
    st["middle_diag_minus_offdiag"] = diag_contrast(g, data["rows"], st["middle"])
    holds = (st["first_value"] - st["middle_min"] >= MARGIN and st["last_value"] - st["middle_min"] >= MARGIN
             and st["ends_mean"] > st["middle_mean"])
    return ClaimCheck(
        claim="across two inits, the first and the last layers are similar, the middle layers less so",
        statistic=(f"diagonal of the grid (layer l of net A vs layer l of net B): first hidden layer and softmax "
                   f"output each >= {MARGIN} above the least similar middle layer, and mean over the first two and "
                   f"last two layers > mean over the layers between ('in' excluded: identical by construction)"),
        measured=st, holds=bool(holds),
        comparison=(vs("diagonal SVCCA: first hidden layer / least similar middle layer / softmax", None,
                       f"{st['first_value']:.2f} / {st['middle_min']:.2f} / {st['last_value']:.2f}"),),
        note=(f"{stored_data_label(data)}; one pair of seeds. "
              "middle_diag_minus_offdiag (reported, not tested) says whether a middle layer is more similar to "
              "the same layer of the other net than to its other layers"))


def draw(data):
    import matplotlib.pyplot as plt
    g = np.asarray(data["grid"], dtype=float)
    rows, cols = data["rows"], data["columns"]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11.5, 5.0), width_ratios=[1.15, 1.0], layout="constrained")
    im = ax.imshow(g, origin="lower", vmin=0.0, vmax=1.0, cmap="viridis", interpolation="nearest")
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=7)
    a, b = data["seeds"]
    ax.set_ylabel(f"layer (convnet, seed {a})")
    ax.set_xlabel(f"layer (convnet, seed {b})")
    ax.set_title("layer x layer", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="SVCCA similarity")
    d = np.diag(g)
    ax2.plot(range(len(rows)), d, "o-", color="C0")
    ax2.set_xticks(range(len(rows)))
    ax2.set_xticklabels(rows, rotation=90, fontsize=7)
    ax2.set_ylim(0.0, 1.02)
    ax2.set_ylabel("SVCCA similarity (same layer, two inits)")
    ax2.set_xlabel("layer")
    ax2.set_title("diagonal", fontsize=10)
    ax2.grid(alpha=0.3)
    fig.get_layout_engine().set(rect=(0.0, 0.03, 1.0, 0.97))     # room for the runner's footer line
    fig.suptitle(f"SVCCA Fig A4: two inits of the same convnet, end of training (step {data['steps']}; "
                 f"{data['n_images']} {data['images']}; conv layers by DFT)\n{stored_data_label(data)}", fontsize=9)
    return fig
