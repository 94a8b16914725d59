"""PWCCA paper (Morcos et al. 2018), appendix Fig A10: Fig 3 on test data -- PWCCA distance per
layer within generalizing nets, within memorizing nets and between the groups, the
representations taken on held-out images no net was trained on.

Same nets as Fig 3 (:mod:`paper_repro.genmem`, shared through the cache), same representation
(each conv filter's mean over spatial positions) and distance (PWCCA, paper definition); only
the images differ: digits' 359 held-out images at the default scale (CIFAR-10's test set, its
first ``n_analysis`` images, at paper scale).  On unseen images the generalizing nets still
output the true class, so their softmax outputs agree; the memorizing nets' outputs on unseen
images are unrelated to any label, and each net's guess is its own.
"""
from __future__ import annotations

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..genmem import accuracy_summary, draw_panel, late_gaps, figure_distances, subtitle
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-figA10", title="fig3 on test data",
                  time_small="~49 s",
                  needs=("torch", "digits (CIFAR-10 at paper scale)", "paper_repro.genmem runs"))

CONFIGS = {"tiny": {"split": "test"}, "small": {"split": "test"}, "paper": {"split": "test"}}

FIT_MIN = 0.95
TOL = 0.05      # the memorizing nets must be at least this much further apart at the softmax


def compute(ctx) -> dict:
    return figure_distances(ctx, CONFIGS, ["pwcca"], desc="pwcca-figA10 PWCCA (test)")


def check(data) -> ClaimCheck:
    acc = accuracy_summary(data)
    fitted = min(acc["generalizing"]["train_fit"]["min"], acc["memorizing"]["train_fit"]["min"])
    sm = data["layers"].index("softmax")
    soft = {k: data["distance"]["pwcca"][k]["mean"][sm] for k in ("generalizing", "memorizing", "inter")}
    soft_std = {k: data["distance"]["pwcca"][k]["std"][sm] for k in ("generalizing", "memorizing", "inter")}
    ok_fit = fitted >= FIT_MIN
    gap = soft["memorizing"] - soft["generalizing"]
    ok = ok_fit and gap > TOL and gap > soft_std["generalizing"] + soft_std["memorizing"]
    return ClaimCheck(
        claim="on test data, at the softmax the generalizing nets agree with each other, the memorizing nets do not",
        statistic=(f"mean PWCCA distance over pairs at the softmax layer, on the held-out images.  Holds iff every net "
                   f"fits its own training labels >= {FIT_MIN} and memorizing - generalizing > {TOL} and > the sum "
                   "of the two groups' standard deviations over pairs"),
        measured={"softmax": soft, "softmax_std": soft_std, "softmax_mem_minus_gen": gap,
                  "min_train_fit_accuracy": fitted, "accuracy": acc, "late_layers": late_gaps(data, "pwcca"),
                  "pwcca_failed_points": len(data["pwcca_failures"])},
        holds=bool(ok),
        comparison=(vs("softmax PWCCA distance on test images: generalizing / memorizing", "~0 / large (curves; no "
                       "number given)", f"{soft['generalizing']:.3f} / {soft['memorizing']:.3f}",
                       "Morcos et al. 2018, Fig A10"),),
        note=(f"{stored_data_label(data)}; {data['n_images']} held-out images"
              + (f"; fastcca.pwcca raised LinAlgError at {len(data['pwcca_failures'])} point(s) (nan, left out of "
                 "the means)" if data["pwcca_failures"] else "")))


def draw(data):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    draw_panel(ax, data, "pwcca", "PWCCA, test data")
    ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("PWCCA Fig A10: Fig 3 on held-out (test) images\n" + subtitle(data), fontsize=7.5)
    fig.tight_layout()
    return fig
