"""PWCCA paper (Morcos et al. 2018), appendix Fig A9: Fig 3 with the unweighted mean CCA distance
and with the SVCCA distance instead of PWCCA.

Same nets, representations and pairs as Fig 3 (:mod:`paper_repro.genmem`, training images).
- mean CCA distance: 1 - mean_i rho_i over all min(p1, p2) canonical correlations
  (``fastcca.mean_cca``);
- SVCCA distance: 1 - mean rho after keeping each side's top singular directions that hold 0.99
  of the sum of singular values (Raghu et al. 2017; ``fastcca.svcca(keep=0.99, keep_rule="sum")``);
- PWCCA (paper definition, Fig 3) drawn alongside for reference.
The paper: the same broad pattern (generalizing nets closer than memorizing nets / than the other
group), but the late-layer narrowing -- the gap that opens in the later layers between the
generalizing curve and the two others -- is smaller without the projection weighting.
"""
from __future__ import annotations

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..genmem import (EARLY, LATE, accuracy_summary, draw_panel, early_max_difference, late_gaps,
                      figure_distances, subtitle)
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-figA9", title="fig3 with unweighted mean CCA and with SVCCA",
                  time_small="~56 s",
                  needs=("torch", "digits (CIFAR-10 at paper scale)", "paper_repro.genmem runs"))

CONFIGS = {"tiny": {"split": "train"}, "small": {"split": "train"}, "paper": {"split": "train"}}
METRICS = ("mean_cca", "svcca", "pwcca")
SMALLER = 0.75   # "misses the narrowing": late gap below 0.75 x PWCCA's (all three distances are in [0, 1])


def compute(ctx) -> dict:
    return figure_distances(ctx, CONFIGS, METRICS, desc="pwcca-figA9 mean CCA / SVCCA")


def check(data) -> ClaimCheck:
    gaps = {m: late_gaps(data, m) for m in METRICS}
    early = {m: early_max_difference(data, m) for m in METRICS}
    ref = gaps["pwcca"]["gap"]
    ratio = {m: (gaps[m]["gap"] / ref if ref > 0 else float("nan")) for m in ("mean_cca", "svcca")}
    broad = {m: bool(gaps[m]["gap"] > 0 and gaps[m]["layers_gen_below_both"] >= 0.75) for m in ratio}
    misses = {m: bool(ratio[m] < SMALLER) for m in ratio}
    return ClaimCheck(
        claim="mean CCA and SVCCA show the same broad pattern as PWCCA but miss the late-layer narrowing of the "
              "generalizing nets",
        statistic=(f"per distance, the late gap: mean over {', '.join(LATE)} of min(memorizing, inter) - generalizing.  "
                   "Holds iff for both mean CCA and SVCCA (a) the broad pattern: gap > 0 and generalizing below both "
                   f"others at >= 75% of those layers, and (b) the gap < {SMALLER} x PWCCA's.  Reported: the early-layer "
                   f"max |difference| over {', '.join(EARLY)} per distance"),
        measured={"late": gaps, "gap_ratio_to_pwcca": ratio, "broad_pattern": broad, "misses_narrowing": misses,
                  "early_max_abs_difference": early, "accuracy": accuracy_summary(data),
                  "pwcca_failed_points": len(data["pwcca_failures"])},
        holds=bool(ref > 0 and all(broad.values()) and all(misses.values())),
        comparison=tuple(vs(f"{m}: late gap / PWCCA's", "same pattern, smaller late narrowing (curves; no number "
                            "given)", ratio[m], "Morcos et al. 2018, Fig A9") for m in ratio),
        note=stored_data_label(data))


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), sharey=True)
    for ax, m, t in zip(axes, METRICS, ("Unweighted mean CCA", "SVCCA (0.99 of the singular value sum)",
                                        "PWCCA (Fig 3, reference)")):
        draw_panel(ax, data, m, t)
        ax.tick_params(labelleft=True)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("PWCCA Fig A9: Fig 3 with mean CCA and SVCCA distances (training data)\n" + subtitle(data),
                 fontsize=8.5)
    fig.tight_layout()
    return fig
