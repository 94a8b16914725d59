"""PWCCA paper (Morcos et al. 2018), appendix Fig A7: pairwise PWCCA distance vs the number of
filters, for untrained (at initialisation) and trained nets.  Claim: trained nets converge with
width (paper, conv mean: 0.47 -> 0.28); at init the distance is flat (0.67 -> 0.63, -6%).

Trained (right panel): the width sweep of :mod:`paper_repro.populations`, shared with Fig 4 / A6
through the cache -- 5 seeds per width factor x1/32 .. x1/2 of the paper's widths (2 .. 32 filters
in conv1) at the default scale, their last checkpoint with the BatchNorm running statistics
training left, compared on the 1438 training images.

At init (left panel): :func:`paper_repro.populations.init_width_analysis`, untrained nets of
their own (:data:`paper_repro.populations.INIT_WIDTHS`).  At the default scale: 5 seeds per width
factor 0.25, 0.5, 1 of the paper's widths (16, 32, 64 filters in conv1), each with its BatchNorm
statistics set from the training images (:func:`paper_repro.models.batchnorm_statistics_from_data`:
otherwise BN is the identity at init, not how an initialised net sees data), compared on the 1438
training images x 25 circular shifts of up to 2 pixels = 35,950 datapoints, streamed into one
``fastcca.JointMoments`` per conv layer (peak memory ~1.6 GB).  Why not the width sweep's own
step-0 checkpoints: with 2-4 random filters per layer the nets are in a finite-width regime where
random nets also grow closer with width (-60 to -65% from 2 to 32 filters); the paper's widths
(16 .. 448 filters in conv1) are all wide (docs/paper-claims.md, "pwcca-figA7", what was tried).
The shifts lower the finite-sample floor of PWCCA on the widest layers (512 neurons: the chance
distance of unrelated sets is 0.93 on 35,950 datapoints, 0.76 at 256 neurons on 1438).

Distance: the paper's PWCCA distance, symmetrised, mean over the 10 pairs of a width; per width
the mean over the conv layers conv1 .. conv11 (the representation of a conv layer: each filter's
spatial mean, PWCCA App. A.4); x: the number of filters of that layer.  Dashed: the chance
distance of independent Gaussian sets with the same n and p
(:func:`paper_repro.populations.chance_pwcca_distance`).  At paper scale both panels use the
paper's widths 0.25 .. 7 on the first 10,000 CIFAR-10 training images (unshifted); BN statistics
from the data there too (``INIT_WIDTHS["paper"]["bn_from_data"]`` switches it back).
"""
from __future__ import annotations

import itertools
import textwrap

import numpy as np

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..populations import INIT_WIDTHS, chance_pwcca_distance, init_width_analysis, init_widths_label
from ..registry import FigureInfo
from .pwcca_fig4 import CONFIGS as FIG4_CONFIGS, WIDTH_RHO_MAX, analysis_data, conv_layers, summarise

INFO = FigureInfo(id="pwcca-figA7", title="distance vs number of filters, at init vs trained",
                  time_small="~4.5 min",
                  needs=("torch (CPU)", "scikit-learn digits (CIFAR-10 at paper scale)"))

CONFIGS = {scale: dict({k: v for k, v in c.items() if k != "checkpoint"}, init_widths=dict(INIT_WIDTHS[scale]))
           for scale, c in FIG4_CONFIGS.items()}
FLAT_MAX = 0.15     # "flat": the conv-mean distance changes by less than this fraction across the widths


def init_analysis_data(ctx) -> dict:
    """The untrained nets' distances as JSON-ready lists, in the layout of
    :func:`paper_repro.figures.pwcca_fig4.analysis_data` (metrics: pwcca only), with the chance
    distance on the same number of datapoints."""
    a = init_width_analysis(ctx)
    n = int(a["n_datapoints"])
    memo = {}               # chance depends on (n, p) only: 6 distinct widths at the default scale

    def chance_at(p):
        if p not in memo:
            memo[p] = chance_pwcca_distance(n, p, ctx.seed, ctx.fastcca_backend)
        return memo[p]

    chance = [[chance_at(int(p)) for p in f] for f in a["filters"]]
    n_seeds = a["test_accuracy"].shape[1]
    return {"width_factors": a["width_factors"].tolist(), "filters": a["filters"].tolist(),
            "layers": [str(x) for x in a["layers"]], "metrics": ["pwcca"],
            "distance": a["distance"].tolist(),                       # (1, width, pair, layer)
            "pairs": [list(p) for p in itertools.combinations(range(n_seeds), 2)],
            "test_accuracy": a["test_accuracy"].tolist(), "n_datapoints": n, "checkpoint": "init",
            "bn_from_data": bool(INIT_WIDTHS[ctx.scale]["bn_from_data"]),
            "data_label": init_widths_label(ctx), "chance_distance_conv": chance}


def compute(ctx) -> dict:
    trained = analysis_data(ctx, "trained")
    init = init_analysis_data(ctx)
    return {"init": init, "trained": trained,
            "data_label": f"at init: {init['data_label']}; trained: {trained['data_label']}, "
                          f"{trained['n_datapoints']} training images, trained BatchNorm statistics"}


def _relative_change(s):
    m = np.asarray(s["conv_mean"])
    return float((m[-1] - m[0]) / m[0])


def _chance_conv_mean(d) -> list:
    return np.mean(d["chance_distance_conv"], axis=1).tolist()


def _filters_conv1(d) -> str:
    f = [int(r[0]) for r in d["filters"]]
    return f"{f[0]} -> {f[-1]}"


def check(data) -> ClaimCheck:
    meas = {}
    for k in ("init", "trained"):
        s = summarise(data[k], "pwcca")
        meas[k] = {"distance_conv_mean": s["conv_mean"], "spearman_width_distance": s["spearman_width_distance"],
                   "relative_change_narrowest_to_widest": _relative_change(s),
                   "chance_distance_conv_mean": _chance_conv_mean(data[k]),
                   "filters_conv1": [int(r[0]) for r in data[k]["filters"]],
                   "n_datapoints": data[k].get("n_datapoints")}
    tr, ini = meas["trained"], meas["init"]
    converge = tr["spearman_width_distance"] <= WIDTH_RHO_MAX
    flat = abs(ini["relative_change_narrowest_to_widest"]) < FLAT_MAX
    ich, tch = ini["chance_distance_conv_mean"], tr["chance_distance_conv_mean"]
    label = stored_data_label(data)
    note = (f"{label}.  Chance distance of independent Gaussians with the same n and p (conv mean): at init "
            f"{ich[0]:.2f} -> {ich[-1]:.2f}, trained {tch[0]:.2f} -> {tch[-1]:.2f}; both curves stay below it")
    if ini["filters_conv1"] != tr["filters_conv1"]:
        note += (f".  The untrained nets are their own population, wider than the trained ones "
                 f"({ini['filters_conv1'][0]}-{ini['filters_conv1'][-1]} vs {tr['filters_conv1'][0]}-"
                 f"{tr['filters_conv1'][-1]} filters in conv1): narrow random nets are in a finite-width regime "
                 "where they too converge with width (docs/paper-claims.md, pwcca-figA7)")
    if not flat:
        note += f"; the init distance is not flat here ({ini['relative_change_narrowest_to_widest']:+.0%})"
    return ClaimCheck(
        claim="trained nets converge to more similar solutions as width grows, while at initialisation the "
              "distance is flat in width",
        statistic=(f"conv-layer mean of the pairwise PWCCA distance per width; holds iff trained "
                   f"Spearman(width, distance) <= {WIDTH_RHO_MAX} and the init distance changes by less than "
                   f"{FLAT_MAX:.0%} from the narrowest to the widest width"),
        measured=meas, holds=bool(converge and flat), note=note,
        comparison=(vs("at init: conv-mean PWCCA distance, narrowest -> widest", "0.67 -> 0.63 (-6%)",
                       f"{ini['distance_conv_mean'][0]:.2f} -> {ini['distance_conv_mean'][-1]:.2f} "
                       f"({ini['relative_change_narrowest_to_widest']:+.1%})", "Morcos et al. 2018, Fig A7"),
                    vs("trained: conv-mean PWCCA distance, narrowest -> widest", "0.47 -> 0.28 (-40%)",
                       f"{tr['distance_conv_mean'][0]:.2f} -> {tr['distance_conv_mean'][-1]:.2f} "
                       f"({tr['relative_change_narrowest_to_widest']:+.1%})", "Morcos et al. 2018, Fig A7"),
                    vs("filters in conv1, narrowest -> widest (at init; trained)", "16 -> 448 (both)",
                       f"{_filters_conv1(data['init'])}; {_filters_conv1(data['trained'])}",
                       "the paper's width sweep, 0.25x-7x (WIDTH_SWEEP['paper'])")))


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True)
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
        n = d.get("n_datapoints")
        what = "at initialisation" if k == "init" else "trained"
        ax.set_title(f"{what} ({n} datapoints): Spearman(width, conv-mean distance) = "
                     f"{s['spearman_width_distance']:.2f}\nconv mean {s['conv_mean'][0]:.2f} -> "
                     f"{s['conv_mean'][-1]:.2f} ({_relative_change(s):+.0%}), narrowest -> widest", fontsize=8.5)
        ax.legend(fontsize=6.5, ncol=2, loc="upper center")
    axes[0].set_ylabel("pairwise PWCCA distance")
    axes[0].set_ylim(0, 1.3)
    label = (f"at init: {data['init']['data_label']}.  Trained: {data['trained']['data_label']}"
             if "data_label" in data["init"] else stored_data_label(data))
    fig.suptitle("PWCCA Fig A7: distance vs number of filters, untrained vs trained\n"
                 + textwrap.fill(label, 170), fontsize=7)
    fig.tight_layout()
    return fig
