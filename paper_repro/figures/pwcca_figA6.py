"""PWCCA paper (Morcos et al. 2018), appendix Fig A6: Fig 4 with the cosine and the Euclidean
distance instead of PWCCA.  Claim: these metrics miss both effects (distance falling with width,
accuracy correlating with distance).

Same nets and datapoints as Fig 4 (the width sweep of :mod:`paper_repro.populations`, shared
through the cache).  Distances between two nets A, B at one layer, neurons matched by index (no
alignment: neither metric is invariant to a permutation or rotation of the neurons, which is the
point of the comparison), on the filter means a_t, b_t (p,) of datapoint t:

- cosine distance: ``mean_t (1 - <a_t, b_t> / (|a_t| |b_t|))``;
- Euclidean distance: ``mean_t |a_t - b_t|_2 / sqrt(p)`` (root mean square difference per neuron,
  raw activations, so layers of different widths compare).

Both are averaged over the 10 pairs of a width and, as the summary, over conv1 .. conv11.
"""
from __future__ import annotations

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..registry import FigureInfo
from .pwcca_fig4 import (ACC_R_MAX, CONFIGS as FIG4_CONFIGS, WIDTH_RHO_MAX, analysis_data, draw_accuracy_panel,
                         draw_width_panel, summarise)

INFO = FigureInfo(id="pwcca-figA6", title="cosine and Euclidean versions of fig4",
                  time_small="~83 s",
                  needs=("torch (CPU)", "scikit-learn digits (CIFAR-10 at paper scale)"))

CONFIGS = {scale: dict(c) for scale, c in FIG4_CONFIGS.items()}
METRICS = (("cosine", "cosine"), ("euclidean", "Euclidean"))


def compute(ctx) -> dict:
    return analysis_data(ctx, "trained")


def check(data) -> ClaimCheck:
    meas, misses = {}, True
    for metric, _ in METRICS + (("pwcca", "PWCCA"),):
        s = summarise(data, metric)
        width_effect = s["spearman_width_distance"] <= WIDTH_RHO_MAX
        acc_effect = s["pearson_accuracy_distance_widths"] <= ACC_R_MAX
        meas[metric] = {"distance_conv_mean": s["conv_mean"],
                        "spearman_width_distance": s["spearman_width_distance"],
                        "pearson_accuracy_distance_widths": s["pearson_accuracy_distance_widths"],
                        "pearson_accuracy_distance_nets": s["pearson_accuracy_distance_nets"],
                        "shows_width_effect": bool(width_effect), "shows_accuracy_effect": bool(acc_effect)}
        if metric != "pwcca":
            misses &= not width_effect and not acc_effect
    return ClaimCheck(
        claim="the cosine and Euclidean distances miss both Fig 4 effects (narrowing with width, accuracy "
              "correlating with distance) that PWCCA shows",
        statistic=(f"Fig 4's criteria on the conv-layer mean distance: width effect iff Spearman(width, "
                   f"distance) <= {WIDTH_RHO_MAX}, accuracy effect iff Pearson(test accuracy, distance) over "
                   f"widths <= {ACC_R_MAX}; holds iff neither cosine nor Euclidean shows either effect "
                   "(PWCCA's values given for contrast)"),
        measured=meas, holds=bool(misses),
        comparison=tuple(vs(f"{m}: Spearman(width, distance) / Pearson(accuracy, distance)",
                            "no width or accuracy effect (curves; no number given)",
                            f"{meas[m]['spearman_width_distance']:.2f} / {meas[m]['pearson_accuracy_distance_widths']:.2f}",
                            "Morcos et al. 2018, Fig A6") for m in ("cosine", "euclidean")),
        note=f"{stored_data_label(data)}; neurons matched by index (no alignment between nets); Euclidean on raw "
             "activations / sqrt(p)")


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    for row, (metric, label) in enumerate(METRICS):
        draw_width_panel(axes[row, 0], data, metric, label)
        draw_accuracy_panel(axes[row, 1], data, metric, label)
    fig.suptitle("PWCCA Fig A6: Fig 4 with cosine (top) and Euclidean (bottom) distances, neurons matched by "
                 f"index\n({stored_data_label(data)}; {data['n_datapoints']} training images, filter means)",
                 fontsize=10)
    fig.tight_layout()
    return fig
