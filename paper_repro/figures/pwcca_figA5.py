"""PWCCA paper (Morcos et al. 2018), appendix Fig A5: Fig 3 with cosine and Euclidean distances
instead of CCA -- per layer within generalizing nets, within memorizing nets and between the
groups, on the training images.

Same nets and representations as Fig 3 (:mod:`paper_repro.genmem`: each conv filter's mean over
spatial positions; the softmax as is).  For a pair of nets with representations x, y (n, p) of
one layer (datapoint i's activation vectors x_i, y_i, neuron k of one net against neuron k of
the other, raw -- not centred):

- cosine distance: ``mean_i (1 - <x_i, y_i> / (||x_i|| ||y_i||))``
  (:func:`paper_repro.genmem.cosine_distance`);
- Euclidean distance: ``mean_i ||x_i - y_i||`` divided by the mean norm
  ``(mean_i ||x_i|| + mean_i ||y_i||) / 2`` so that layers of different scale compare
  (:func:`paper_repro.genmem.euclidean_distance`).

Both compare neuron k with neuron k, so they are not invariant to the order (or any linear
re-mixing) of the neurons of different nets -- which is what CCA is for.  The PWCCA panel (the
same numbers as Fig 3) is drawn alongside for reference; the paper's A5 has the two panels.
"""
from __future__ import annotations

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..genmem import LATE, accuracy_summary, draw_panel, late_gaps, figure_distances, subtitle
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-figA5", title="cosine and Euclidean versions of fig3",
                  time_small="~54 s",
                  needs=("torch", "digits (CIFAR-10 at paper scale)", "paper_repro.genmem runs"))

CONFIGS = {"tiny": {"split": "train"}, "small": {"split": "train"}, "paper": {"split": "train"}}
METRICS = ("cosine", "euclidean", "pwcca")
MISS = 0.5    # a metric "misses" the effect when its relative late gap is below half of PWCCA's


def compute(ctx) -> dict:
    return figure_distances(ctx, CONFIGS, METRICS, desc="pwcca-figA5 cosine / Euclidean")


def check(data) -> ClaimCheck:
    gaps = {m: late_gaps(data, m) for m in METRICS}
    ref = gaps["pwcca"]["relative_gap"]
    ratio = {m: (gaps[m]["relative_gap"] / ref if ref > 0 else float("nan")) for m in ("cosine", "euclidean")}
    missed = {m: bool(ratio[m] < MISS) for m in ratio}
    return ClaimCheck(
        claim="cosine and Euclidean distances miss the effect PWCCA shows (generalizing nets closer to each other "
              "than memorizing nets and than the other group in the later layers)",
        statistic=(f"per metric, the relative late gap: mean over {', '.join(LATE)} of (min(memorizing, inter) - "
                   "generalizing) divided by the mean of the three curves there.  Holds iff PWCCA's relative gap "
                   f"> 0 and both cosine's and Euclidean's are < {MISS} x PWCCA's"),
        measured={"late": gaps, "ratio_to_pwcca": ratio, "missed": missed, "accuracy": accuracy_summary(data),
                  "pwcca_failed_points": len(data["pwcca_failures"])},
        holds=bool(ref > 0 and all(missed.values())),
        comparison=tuple(vs(f"{m}: relative late gap / PWCCA's", "the effect missed (curves; no number given)",
                            ratio[m], "Morcos et al. 2018, Fig A5") for m in ratio),
        note=stored_data_label(data))


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, m, t in zip(axes, METRICS, ("Cosine", "Euclidean (relative to the mean norm)", "PWCCA (Fig 3, reference)")):
        draw_panel(ax, data, m, t)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle("PWCCA Fig A5: Fig 3 with cosine and Euclidean distances (training data)\n" + subtitle(data),
                 fontsize=8.5)
    fig.tight_layout()
    return fig
