"""PWCCA paper (Morcos et al. 2018), Fig 5: networks trained with different learning rates
converge to distinct clusters of solutions, and the clusters differ in robustness to ablation.
(a) the PWCCA distance matrix at one layer over a population of nets (learning rates x seeds);
(b) ablation robustness vs generalisation, coloured by cluster.

Population: :func:`paper_repro.populations.lr_population` (default scale: PWCCAConvNet x1/8 on
digits, Adam learning rates 1e-4 / 1e-3 / 1e-2, 8 seeds each, 300 steps; the lr=1e-3 nets are
Fig 4's width-1/8 nets).  Layer: ``layer`` of the config (conv11 at the default scale: the last
conv layer, each filter's spatial mean; conv9 gives the same picture, docs/paper-repro-groups.md).

- distance: the paper's PWCCA distance, symmetrised ``(d(A, B) + d(B, A)) / 2``, on the training
  images;
- clusters: :func:`paper_repro.populations.cluster_labels`, average linkage on the nets' distance
  profiles (rows of the matrix), the tree cut into k = number of learning rates clusters; the
  direct average linkage on the matrix is reported too;
- ablation robustness: test accuracy while a growing fraction (0, 0.1, .., 1) of the layer's
  filters is zeroed (random orders, averaged), its area under the curve divided by the fraction
  range (:func:`~paper_repro.populations.ablation_curve`, :func:`~paper_repro.populations.curve_area`);
- generalisation: test accuracy (the train - test gap is in the JSON).

Statistics: adjusted Rand index of clusters vs learning rates, and eta^2 (the fraction of the
variance explained by the clusters) of the ablation area and of the test accuracy, each with a
one-sided permutation p-value.
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck
from ..populations import (LR_POPULATION, adjusted_rand, cluster_labels, curve_area, eta_squared,
                           lr_population_analysis, permutation_pvalue)
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-fig5", title="distance matrix over nets with varied learning rates; clusters vs ablation",
                  time_small="~49 s",
                  needs=("torch (CPU)", "scikit-learn digits (CIFAR-10 at paper scale)"))

_FRACTIONS = [round(0.1 * i, 1) for i in range(11)]
CONFIGS = {
    "tiny": {"population": dict(LR_POPULATION["tiny"]), "layer": "conv9", "fractions": [0.0, 0.5, 1.0],
             "orders": 1, "linkage": "average", "permutations": 200},
    "small": {"population": dict(LR_POPULATION["small"]), "layer": "conv11", "fractions": _FRACTIONS,
              "orders": 3, "linkage": "average", "permutations": 2000},
    "paper": {"population": dict(LR_POPULATION["paper"]), "layer": "conv11", "fractions": _FRACTIONS,
              "orders": 3, "linkage": "average", "permutations": 2000},
}
P_MAX = 0.05


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    a = lr_population_analysis(ctx, cfg["layer"], cfg["fractions"], cfg["orders"])
    lr = a["lr"]
    k = len(np.unique(lr))
    fr = a["fractions"]
    auc = np.asarray([np.mean([curve_area(fr, c) for c in net]) for net in a["ablation"]])
    clusters = cluster_labels(a["distance"], k, method=cfg["linkage"], on="profile")
    direct = cluster_labels(a["distance"], k, method=cfg["linkage"], on="matrix")
    n_perm = cfg["permutations"]
    lr_codes = np.unique(lr, return_inverse=True)[1]
    stats = {
        "ari_clusters_lr": adjusted_rand(clusters, lr_codes),
        "p_ari": permutation_pvalue(lambda x, l: adjusted_rand(l, x), lr_codes, clusters, n_perm, seed=1),
        "ari_direct_linkage_lr": adjusted_rand(direct, lr_codes),
        "eta2_ablation_clusters": eta_squared(auc, clusters),
        "p_eta2_ablation": permutation_pvalue(eta_squared, auc, clusters, n_perm, seed=2),
        "eta2_test_accuracy_clusters": eta_squared(a["test_accuracy"], clusters),
        "p_eta2_test_accuracy": permutation_pvalue(eta_squared, a["test_accuracy"], clusters, n_perm, seed=3),
        "eta2_ablation_lr": eta_squared(auc, lr_codes),
    }
    lrs = np.unique(lr)
    return {"layer": cfg["layer"], "lr": lr.tolist(), "seed": a["seed"].tolist(), "distance": a["distance"].tolist(),
            "distance_one_sided": a["distance_raw"].tolist(), "clusters": clusters.tolist(),
            "clusters_direct_linkage": direct.tolist(), "train_accuracy": a["train_accuracy"].tolist(),
            "test_accuracy": a["test_accuracy"].tolist(),
            "generalisation_gap": (a["train_accuracy"] - a["test_accuracy"]).tolist(),
            "ablation_area": auc.tolist(), "ablation_curve_mean": a["ablation"].mean(1).tolist(),
            "fractions": fr.tolist(), "block_mean_distance": [[float(np.mean(
                [a["distance"][i, j] for i in np.flatnonzero(lr == u) for j in np.flatnonzero(lr == v) if i != j]))
                for v in lrs] for u in lrs], "lrs": lrs.tolist(), "stats": stats,
            "width_factor": LR_POPULATION[ctx.scale]["width_factor"], "steps": LR_POPULATION[ctx.scale]["steps"]}


def check(data) -> ClaimCheck:
    s = data["stats"]
    lr, cl = np.asarray(data["lr"]), np.asarray(data["clusters"])
    majority = [int(np.bincount(cl[lr == u]).argmax()) for u in data["lrs"]]
    separates = len(set(majority)) == len(majority)
    aligned = s["p_ari"] < P_MAX and separates
    ablation = s["p_eta2_ablation"] < P_MAX
    return ClaimCheck(
        claim="nets trained with different learning rates form clusters of PWCCA distance aligned with the "
              "learning rate, and the clusters differ in ablation robustness",
        statistic=(f"clusters: average linkage on the distance profiles, k = number of learning rates; holds iff "
                   f"the adjusted Rand index of clusters vs learning rates and eta^2 of the ablation area by "
                   f"cluster both have permutation p < {P_MAX}, and every learning rate has its own majority "
                   "cluster (the clusters tell all learning rates apart)"),
        measured={"ari_clusters_lr": s["ari_clusters_lr"], "p_ari": s["p_ari"],
                  "ari_direct_linkage_lr": s["ari_direct_linkage_lr"],
                  "eta2_ablation_clusters": s["eta2_ablation_clusters"], "p_eta2_ablation": s["p_eta2_ablation"],
                  "eta2_test_accuracy_clusters": s["eta2_test_accuracy_clusters"],
                  "p_eta2_test_accuracy": s["p_eta2_test_accuracy"],
                  "cluster_sizes": np.bincount(data["clusters"]).tolist(),
                  "block_mean_distance_by_lr": data["block_mean_distance"],
                  "cluster_composition": _composition(data),
                  "majority_cluster_per_lr": dict(zip([f"lr {u:g}" for u in data["lrs"]], majority))},
        holds=bool(aligned and ablation),
        note=_note(data))


def _composition(data) -> dict:
    """cluster -> {learning rate: number of nets}."""
    lr, cl = np.asarray(data["lr"]), np.asarray(data["clusters"])
    return {f"cluster {c}": {f"lr {u:g}": int(np.sum((cl == c) & (lr == u)))
                             for u in data["lrs"] if np.any((cl == c) & (lr == u))}
            for c in np.unique(cl)}


def _note(data) -> str:
    """What the distance blocks show, from the numbers (within vs between learning rates)."""
    b = np.asarray(data["block_mean_distance"])
    s = data["stats"]
    parts = []
    for i, lr in enumerate(data["lrs"]):
        others = np.delete(b[i], i)
        if len(others) and b[i, i] > others.min():
            parts.append(f"the lr {lr:g} nets are farther from each other ({b[i, i]:.2f}) than from the nearest "
                         f"other learning rate ({others.min():.2f}): a diffuse group, not a tight cluster")
    lr, cl = np.asarray(data["lr"]), np.asarray(data["clusters"])
    groups = {}
    for u in data["lrs"]:
        groups.setdefault(int(np.bincount(cl[lr == u]).argmax()), []).append(f"{u:g}")
    shared = [g for g in groups.values() if len(g) > 1]
    if shared:
        parts.append("learning rates " + "; ".join(" and ".join(g) for g in shared) + " share one cluster (their "
                     "distances overlap): only part of the learning-rate structure is recovered")
    tr, te = np.asarray(data["train_accuracy"]), np.asarray(data["test_accuracy"])
    parts.append("mean train / test accuracy per learning rate: " + ", ".join(
        f"{u:g}: {tr[lr == u].mean():.3f} / {te[lr == u].mean():.3f}" for u in data["lrs"])
        + " (a learning rate that is still fitting differs from the others by training progress too)")
    parts.append(f"direct average linkage on the matrix: ARI {s['ari_direct_linkage_lr']:.2f} (the profile "
                 f"clustering: {s['ari_clusters_lr']:.2f})")
    return "; ".join(parts)

def draw(data):
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    lr = np.asarray(data["lr"])
    cl = np.asarray(data["clusters"])
    d = np.asarray(data["distance"], dtype=float)
    order = np.lexsort((cl, lr))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1.1, 1, 1]})
    ax = axes[0]
    shown = d[np.ix_(order, order)].copy()
    np.fill_diagonal(shown, np.nan)
    im = ax.imshow(shown, cmap="viridis_r", interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.1, label=f"PWCCA distance ({data['layer']})")
    ccols = plt.get_cmap("tab10")
    n = len(lr)
    for i, j in enumerate(order):
        ax.add_patch(plt.Rectangle((n - 0.5, i - 0.5), 1.2, 1, color=ccols(cl[j]), clip_on=False))
    bounds = np.flatnonzero(np.diff(lr[order])) + 0.5
    for b in bounds:
        ax.axhline(b, color="w", lw=1.5)
        ax.axvline(b, color="w", lw=1.5)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(lr[order])) + 1, [n]])
    ax.set_yticks((starts[:-1] + starts[1:] - 1) / 2)
    ax.set_yticklabels([f"lr {lr[order][s]:g}" for s in starts[:-1]], fontsize=8)
    ax.set_xticks([])
    ax.set_title(f"(a) PWCCA distance at {data['layer']}, {n} nets\n(sorted by learning rate; right strip: cluster)",
                 fontsize=9)
    markers = dict(zip(data["lrs"], "os^Dv<>p"))
    ax = axes[1]
    for i in range(n):
        ax.scatter(data["test_accuracy"][i], data["ablation_area"][i], color=ccols(cl[i]), marker=markers[lr[i]],
                   s=40, edgecolor="k", lw=0.4)
    handles = [Line2D([], [], ls="", marker=markers[u], color="0.5", label=f"lr {u:g}") for u in data["lrs"]]
    handles += [Line2D([], [], ls="", marker="o", color=ccols(c), label=f"cluster {c}") for c in np.unique(cl)]
    ax.legend(handles=handles, fontsize=7)
    ax.set_xlabel("generalisation: test accuracy")
    ax.set_ylabel("ablation robustness (area under ablation curve)")
    s = data["stats"]
    ax.set_title(f"(b) ablation robustness vs generalisation, by cluster\n"
                 f"ARI(cluster, lr) = {s['ari_clusters_lr']:.2f} (p={s['p_ari']:.3g}); "
                 f"eta2 ablation = {s['eta2_ablation_clusters']:.2f} (p={s['p_eta2_ablation']:.3g})",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax = axes[2]
    curves = np.asarray(data["ablation_curve_mean"])
    for i in range(n):
        ax.plot(data["fractions"], curves[i], color=ccols(cl[i]), alpha=0.35, lw=0.8)
    for c in np.unique(cl):
        ax.plot(data["fractions"], curves[cl == c].mean(0), color=ccols(c), lw=2.5, label=f"cluster {c} mean")
    ax.set_xlabel(f"fraction of {data['layer']} filters zeroed")
    ax.set_ylabel("test accuracy")
    ax.set_title("ablation curves (thin: nets; thick: cluster means)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle(f"PWCCA Fig 5: nets trained with different learning rates (PWCCA convnet x{data['width_factor']:g} "
                 f"on digits, {data['steps']} steps)", fontsize=10)
    fig.tight_layout()
    return fig
