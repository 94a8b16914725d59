"""PWCCA paper (Morcos et al. 2018), Fig 4: wider networks converge to more similar solutions.
(a) the pairwise PWCCA distance between the nets of one width (different seeds), per layer, vs
the width; (b) test accuracy vs that distance (paper: correlation -0.96).

Nets: :class:`paper_repro.models.PWCCAConvNet` (11 conv layers, widths 64..512 x width factor),
the width sweep of :mod:`paper_repro.populations` (``seeds`` nets per width, shared with Fig A6 /
A7 through the cache).  Default scale: digits (8x8), width factors 1/32 .. 1/2 (2 .. 32 filters in
conv1, 16 .. 256 in conv9-11), 5 nets per width, 300 Adam steps; the paper: CIFAR-10, factors
0.25 .. 7, 100 epochs.  Representation of a conv layer: each filter's mean over spatial positions
(the paper's), on the training images.  Distance: the paper's PWCCA distance, symmetrised
``(d(A, B) + d(B, A)) / 2`` (:mod:`paper_repro.populations`), mean over the 10 pairs of a width.
Summary distance of a net / a width: the mean over the conv layers conv1 .. conv11.
Dashed: the "chance" distance of two independent Gaussian sets with the same datapoints and
neurons per layer (:func:`paper_repro.populations.chance_pwcca_distance`), the finite-sample
floor that also falls with width.
"""
from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import spearmanr

from ..analysis import corr
from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..populations import DISTANCES, WIDTH_SWEEP, chance_pwcca_distance, width_sweep_analysis, width_sweep_label
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-fig4", title="distance vs width; test accuracy vs distance",
                  time_small="~86 s",
                  needs=("torch (CPU)", "scikit-learn digits (CIFAR-10 at paper scale)"))

CONFIGS = {scale: {"width_sweep": dict(s), "checkpoint": "trained"} for scale, s in WIDTH_SWEEP.items()}

#: fig4's criteria, also applied to the cosine / Euclidean versions (Fig A6)
WIDTH_RHO_MAX = -0.8      # Spearman(width, distance) at most this: distance falls with width
ACC_R_MAX = -0.8          # Pearson(test accuracy, distance) over the widths at most this


def analysis_data(ctx, checkpoint: str = "trained") -> dict:
    """The width sweep's distances as JSON-ready lists (shared by Fig 4, A6, A7)."""
    a = width_sweep_analysis(ctx, checkpoint)
    n_seeds = a["test_accuracy"].shape[1]
    n = _n_points(ctx)
    conv = [i for i, name in enumerate(a["layers"]) if str(name).startswith("conv")]
    chance = [[chance_pwcca_distance(n, int(f[i]), ctx.seed, ctx.fastcca_backend) for i in conv]
              for f in a["filters"]]
    return {"width_factors": a["width_factors"].tolist(), "filters": a["filters"].tolist(),
            "layers": [str(n) for n in a["layers"]], "metrics": list(DISTANCES),
            "distance": a["distance"].tolist(),                       # (metric, width, pair, layer)
            "pairs": [list(p) for p in itertools.combinations(range(n_seeds), 2)],
            "test_accuracy": a["test_accuracy"].tolist(), "train_accuracy": a["train_accuracy"].tolist(),
            "n_datapoints": int(n), "checkpoint": checkpoint, "data_label": width_sweep_label(ctx),
            "chance_distance_conv": chance}                           # (width, conv layer)


def _n_points(ctx):
    from ..populations import eval_images
    return len(eval_images(ctx, WIDTH_SWEEP[ctx.scale]["n_points"]))


def compute(ctx) -> dict:
    return analysis_data(ctx, "trained")


def conv_layers(data) -> list:
    return [i for i, n in enumerate(data["layers"]) if n.startswith("conv")]


def summarise(data, metric: str) -> dict:
    """Per width and per net, the mean distance over the conv layers for ``metric``; Spearman of
    width vs distance; Pearson of test accuracy vs distance over widths and over nets."""
    d = np.asarray(data["distance"], dtype=float)[data["metrics"].index(metric)]      # (W, pairs, L)
    conv = conv_layers(data)
    per_pair = np.nanmean(d[:, :, conv], axis=2)                                          # (W, pairs)
    acc = np.asarray(data["test_accuracy"], dtype=float)                                  # (W, S)
    pairs = np.asarray(data["pairs"])
    per_net = np.stack([[per_pair[w, (pairs == s).any(1)].mean() for s in range(acc.shape[1])]
                        for w in range(len(acc))])
    width_mean = per_pair.mean(1)
    return {"per_layer_mean": np.nanmean(d, axis=1).tolist(), "per_layer_std": np.nanstd(d, axis=1).tolist(),
            "conv_mean": width_mean.tolist(), "conv_std": per_pair.std(1).tolist(),
            "per_net": per_net.tolist(),
            "spearman_width_distance": float(spearmanr(data["width_factors"], width_mean)[0]),
            "pearson_accuracy_distance_widths": corr(acc.mean(1), width_mean),
            "pearson_accuracy_distance_nets": corr(acc.ravel(), per_net.ravel()),
            "layers_narrowing": int(np.sum(np.nanmean(d[-1][:, conv], 0) < np.nanmean(d[0][:, conv], 0)))}


def check(data) -> ClaimCheck:
    s = summarise(data, "pwcca")
    acc = np.asarray(data["test_accuracy"]).mean(1)
    wider = s["spearman_width_distance"] <= WIDTH_RHO_MAX
    accr = s["pearson_accuracy_distance_widths"] <= ACC_R_MAX
    return ClaimCheck(
        claim="wider networks converge to more similar solutions (smaller pairwise PWCCA distance), and "
              "test accuracy correlates with that distance (paper: r = -0.96)",
        statistic=(f"mean over conv1-11 of the pairwise PWCCA distance per width; holds iff Spearman(width, "
                   f"distance) <= {WIDTH_RHO_MAX} and Pearson(mean test accuracy, distance) over the widths "
                   f"<= {ACC_R_MAX}; also reported: Pearson over the individual nets (each net's mean distance "
                   "to the others of its width) and the number of conv layers whose distance at the widest "
                   "width is below the narrowest"),
        measured={"width_factors": data["width_factors"], "distance_conv_mean": s["conv_mean"],
                  "test_accuracy": acc.tolist(), "spearman_width_distance": s["spearman_width_distance"],
                  "pearson_accuracy_distance_widths": s["pearson_accuracy_distance_widths"],
                  "pearson_accuracy_distance_nets": s["pearson_accuracy_distance_nets"],
                  "conv_layers_narrowing": f"{s['layers_narrowing']}/{len(conv_layers(data))}"},
        holds=bool(wider and accr),
        comparison=(vs("Pearson(test accuracy, PWCCA distance) (ours: over the widths)", -0.96, s["pearson_accuracy_distance_widths"],
                       "Morcos et al. 2018, Fig 4b"),
                    vs("conv-mean PWCCA distance, narrowest -> widest width", "falls with width (curves)",
                       f"{s['conv_mean'][0]:.2f} -> {s['conv_mean'][-1]:.2f}", "Morcos et al. 2018, Fig 4a")),
        note=f"{stored_data_label(data)}; the narrowest nets also reach a lower accuracy, which drives part of the "
             "correlation (as in the paper)")


def _width_ticks(ax, data):
    wf = np.asarray(data["width_factors"])
    ax.set_xscale("log", base=2)
    ax.set_xticks(wf)
    ax.set_xticklabels([f"{w:g}\n({int(f[0])})" for w, f in zip(wf, data["filters"])], fontsize=7)
    ax.set_xlabel("width factor (filters in conv1)")


def draw_width_panel(ax, data, metric: str, label: str):
    """Distance vs width, one line per conv layer (colour = depth) and the conv mean (black)."""
    import matplotlib.pyplot as plt
    s = summarise(data, metric)
    wf = np.asarray(data["width_factors"])
    mean, std = np.asarray(s["per_layer_mean"]), np.asarray(s["per_layer_std"])
    conv = conv_layers(data)
    cmap = plt.get_cmap("viridis")
    for k, li in enumerate(conv):
        ax.errorbar(wf, mean[:, li], yerr=std[:, li], color=cmap(k / max(1, len(conv) - 1)), lw=1.2, ms=3,
                    marker="o", capsize=2,
                    label=data["layers"][li] if k in (0, len(conv) // 2, len(conv) - 1) else None)
    ax.plot(wf, s["conv_mean"], color="k", lw=2.5, marker="s", label="mean over conv layers")
    if metric == "pwcca":
        ax.plot(wf, np.mean(data["chance_distance_conv"], axis=1), color="0.4", lw=1.5, ls="--",
                label="chance: independent Gaussians, same n and p (conv mean)")
    _width_ticks(ax, data)
    ax.set_ylabel(f"pairwise {label} distance")
    ax.grid(alpha=0.3)
    if metric == "pwcca":                      # room above the curves for the legend
        ax.set_ylim(0, 1.3)
        ax.legend(fontsize=6.5, ncol=2, loc="upper center")
    else:
        ax.legend(fontsize=7)
    ax.set_title(f"(a) {label} distance between the {len(data['test_accuracy'][0])} nets of a width\n"
                 f"Spearman(width, distance) = {s['spearman_width_distance']:.2f}", fontsize=9)


def draw_accuracy_panel(ax, data, metric: str, label: str):
    """Test accuracy vs mean conv-layer distance: one point per width (mean +- std), nets faint."""
    import matplotlib.pyplot as plt
    s = summarise(data, metric)
    acc = np.asarray(data["test_accuracy"])
    cmap = plt.get_cmap("plasma")
    n = len(acc)
    for w in range(n):
        c = cmap(0.1 + 0.75 * w / max(1, n - 1))
        ax.scatter(s["per_net"][w], acc[w], color=c, s=12, alpha=0.4)
        ax.errorbar(s["conv_mean"][w], acc[w].mean(), xerr=s["conv_std"][w], yerr=acc[w].std(), color=c,
                    marker="o", ms=7, capsize=2, label=f"x{data['width_factors'][w]:g}")
    ax.set_xlabel(f"{label} distance (mean over conv layers)")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, title="width", title_fontsize=7)
    ax.set_title(f"(b) test accuracy vs {label} distance\nr over widths = "
                 f"{s['pearson_accuracy_distance_widths']:.2f}, over nets = {s['pearson_accuracy_distance_nets']:.2f}",
                 fontsize=9)


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    draw_width_panel(axes[0], data, "pwcca", "PWCCA")
    draw_accuracy_panel(axes[1], data, "pwcca", "PWCCA")
    fig.suptitle(f"PWCCA Fig 4: wider nets converge to more similar solutions\n({stored_data_label(data)}; "
                 f"{data['n_datapoints']} training images, filter means)", fontsize=9)
    fig.tight_layout()
    return fig
