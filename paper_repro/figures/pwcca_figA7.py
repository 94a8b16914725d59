"""PWCCA paper (Morcos et al. 2018), appendix Fig A7: pairwise PWCCA distance vs the number of
filters, for untrained (at initialisation) and trained nets.  Claim: trained nets converge with
width; at init the distance is flat.

Same nets as Fig 4 (the width sweep of :mod:`paper_repro.populations`): the init is the step-0
checkpoint of the same runs (BatchNorm in eval mode with its initial running statistics, mean 0
and variance 1, i.e. the identity), the trained net the last one.  Distance: the paper's PWCCA
distance, symmetrised, mean over the pairs of a width; x: the number of filters of that layer.
Dashed: the chance distance of independent Gaussian sets with the same n and p (the finite-sample
floor, :func:`paper_repro.populations.chance_pwcca_distance`).
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..registry import FigureInfo
from .pwcca_fig4 import CONFIGS as FIG4_CONFIGS, WIDTH_RHO_MAX, analysis_data, conv_layers, summarise

INFO = FigureInfo(id="pwcca-figA7", title="distance vs number of filters, at init vs trained",
                  time_small="~1.5 min",
                  needs=("torch (CPU)", "scikit-learn digits (CIFAR-10 at paper scale)"))

CONFIGS = {scale: {k: v for k, v in c.items() if k != "checkpoint"} for scale, c in FIG4_CONFIGS.items()}
FLAT_MAX = 0.15     # "flat": the conv-mean distance changes by less than this fraction across the widths


def compute(ctx) -> dict:
    trained = analysis_data(ctx, "trained")
    return {"init": analysis_data(ctx, "init"), "trained": trained, "data_label": trained["data_label"]}


def _relative_change(s):
    m = np.asarray(s["conv_mean"])
    return float((m[-1] - m[0]) / m[0])


def check(data) -> ClaimCheck:
    meas = {}
    for k in ("init", "trained"):
        s = summarise(data[k], "pwcca")
        meas[k] = {"distance_conv_mean": s["conv_mean"], "spearman_width_distance": s["spearman_width_distance"],
                   "relative_change_narrowest_to_widest": _relative_change(s)}
    tr, ini = meas["trained"], meas["init"]
    converge = tr["spearman_width_distance"] <= WIDTH_RHO_MAX
    flat = abs(ini["relative_change_narrowest_to_widest"]) < FLAT_MAX
    ch = np.mean(data["trained"]["chance_distance_conv"], axis=1)
    label = stored_data_label(data)
    note = label + ("" if flat else
                    "; the nets at init also converge with width: narrow random conv nets (a few filters) represent "
                    "the inputs differently and wider ones approach their common infinite-width limit (chance distance "
                    f"of independent Gaussians with the same n and p, conv mean: {ch[0]:.2f} -> {ch[-1]:.2f}; init and "
                    "trained stay well below it)"
                    + ("; not finite-sample bias: with 25 translated copies of every image (35,950 datapoints, chance "
                       "flat at 0.99 -> 0.95) init still fell 60%; with BatchNorm using the data's statistics at init "
                       "25%; the paper's widths (16-448 filters in conv1, all in the wide regime) are needed, "
                       "docs/paper-claims.md" if "digits" in label else ""))
    meas["chance_distance_conv_mean"] = np.mean(data["trained"]["chance_distance_conv"], axis=1).tolist()
    return ClaimCheck(
        claim="trained nets converge to more similar solutions as width grows, while at initialisation the "
              "distance is flat in width",
        statistic=(f"conv-layer mean of the pairwise PWCCA distance per width; holds iff trained "
                   f"Spearman(width, distance) <= {WIDTH_RHO_MAX} and the init distance changes by less than "
                   f"{FLAT_MAX:.0%} from the narrowest to the widest width"),
        measured=meas, holds=bool(converge and flat), note=note,
        comparison=(vs("at init: conv-mean PWCCA distance, narrowest -> widest", "0.67 -> 0.63 (-6%)",
                       f"{ini['distance_conv_mean'][0]:.2f} -> {ini['distance_conv_mean'][-1]:.2f} "
                       f"({ini['relative_change_narrowest_to_widest']:+.0%})", "Morcos et al. 2018, Fig A7"),
                    vs("trained: conv-mean PWCCA distance, narrowest -> widest", "0.47 -> 0.28 (-40%)",
                       f"{tr['distance_conv_mean'][0]:.2f} -> {tr['distance_conv_mean'][-1]:.2f} "
                       f"({tr['relative_change_narrowest_to_widest']:+.0%})", "Morcos et al. 2018, Fig A7")))


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, k in zip(axes, ("init", "trained")):
        d = data[k]
        s = summarise(d, "pwcca")
        mean = np.asarray(s["per_layer_mean"])
        filt = np.asarray(d["filters"])
        conv = conv_layers(d)
        cmap = plt.get_cmap("viridis")
        for j, li in enumerate(conv):
            ax.plot(filt[:, li], mean[:, li], marker="o", ms=3, lw=1.2, color=cmap(j / max(1, len(conv) - 1)),
                    label=d["layers"][li] if j in (0, len(conv) // 2, len(conv) - 1) else None)
        chance = np.asarray(d["chance_distance_conv"])
        xs = np.unique(filt[:, conv])
        ch = [np.mean(chance[filt[:, conv] == v]) for v in xs]
        ax.plot(xs, ch, color="0.4", ls="--", lw=1.5, label="chance: independent Gaussians, same n and p")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("number of filters in the layer")
        ax.grid(alpha=0.3)
        ax.set_title(f"{'at initialisation' if k == 'init' else 'trained'}: Spearman(width, conv-mean distance) = "
                     f"{s['spearman_width_distance']:.2f}\nchange narrowest -> widest: {_relative_change(s):+.0%}",
                     fontsize=9)
        ax.legend(fontsize=6.5, ncol=2, loc="upper center")
    axes[0].set_ylabel("pairwise PWCCA distance")
    axes[0].set_ylim(0, 1.3)
    fig.suptitle("PWCCA Fig A7: distance vs number of filters, untrained vs trained\n("
                 f"{stored_data_label(data)})", fontsize=9)
    fig.tight_layout()
    return fig
