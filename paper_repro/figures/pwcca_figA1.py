"""PWCCA paper (Morcos et al. 2018), appendix Fig A1: the performance curves of the Fig 1 runs
(accuracy of the CNN, perplexity of the LMs), to show that performance converges before the
CCA coefficients do.

The same runs and numbers as ``pwcca-fig1`` (:func:`paper_repro.pwcca_dynamics.compute_runs`,
the same configuration, so the same cached training runs): the SVCCA convnet on digits (test
accuracy on the 360 held-out digits) and the 3-/5-layer LSTM LMs of pwcca-fig6 on synthetic
Markov sequences (perplexity on 500 held-out sequences after a 10-token burn-in), standing in for
the paper's CIFAR-10 CNN and PTB / WikiText-2 LMs.  Over each performance curve: the mean CCA
coefficient of the Fig 1 layer vs its final state (right axis).  Convergence step = the first
checkpoint at which a curve reaches 95% of its improvement (performance: to the last checkpoint,
the LMs measured on the log scale, i.e. cross entropy; coefficients: to the last-but-one, since
the last is the layer compared with itself).
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..pwcca_dynamics import compute_runs, stored_data_label
from ..registry import FigureInfo
from .pwcca_fig1 import CONFIGS

INFO = FigureInfo(id="pwcca-figA1", title="accuracy / perplexity curves of the fig1 runs",
                  time_small="~37 s",
                  needs=("torch (CPU)", "the runs of pwcca-fig1 (cached, shared)"))


def compute(ctx) -> dict:
    return compute_runs(ctx, ctx.config(CONFIGS))


def check(data) -> ClaimCheck:
    meas, ok = {}, True
    for m in data["models"]:
        later = m["coef_step"] > m["perf_step"]
        meas[m["name"]] = {"performance_step": m["perf_step"], "coefficient_step": m["coef_step"],
                           "final_steps": m["steps"][-1], "final_performance": m["performance"][-1],
                           "share_of_coefficient_change_after_performance_step": m["coef_change_after_perf"],
                           "coefficients_converge_later": bool(later)}
        ok &= later
    return ClaimCheck(
        claim="performance converges before the CCA coefficients (vs the final step) do",
        statistic=(f"per model, the first checkpoint where performance reaches {data['perf_frac']:.0%} of its final "
                   f"improvement (accuracy; LMs: log perplexity) vs the first where the mean CCA coefficient "
                   f"vs the final step reaches {data['perf_frac']:.0%} of its improvement up to the last-but-one "
                   f"checkpoint; holds iff the coefficient step is later for every model (the share of the "
                   f"coefficient change after the performance step is reported)"),
        measured=meas, holds=bool(ok),
        comparison=tuple(vs(f"{k}: step where performance / the mean CCA coefficient reach 95%",
                            "performance first (curves; no number given)",
                            f"{v['performance_step']} / {v['coefficient_step']}", "Morcos et al. 2018, Fig A1")
                         for k, v in meas.items()),
        note=("the coefficients are measured against the final step, so they approach 1 only at the end by "
              "construction; the last checkpoint is left out for that reason, but a curve that keeps rising "
              "smoothly to the end still converges late -- which is the paper's point (Fig 1a-c); "
              f"{stored_data_label(data)}; the CNN's test accuracy can be noisy "
              "(first passage is used, so a late dip does not move its step)"))


def draw(data):
    import matplotlib.pyplot as plt
    models = data["models"]
    fig, axes = plt.subplots(1, len(models), figsize=(4.8 * len(models), 3.9))
    for ax, m in zip(axes, models):
        steps = np.asarray(m["steps"])
        perf = np.asarray(m["performance"], dtype=float)
        ax.plot(steps, perf, "-o", color="tab:blue", ms=3, lw=2, label=m["performance_name"])
        if not m["higher_is_better"]:
            from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
            ax.yaxis.set_major_formatter(ScalarFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylabel(m["performance_name"], color="tab:blue")
        ax.set_xlabel("training step")
        ax.axvline(m["perf_step"], color="tab:blue", ls="--", lw=1)
        ax.axvline(m["coef_step"], color="tab:red", ls="--", lw=1)
        ax.grid(alpha=0.3)
        ax2 = ax.twinx()
        ax2.plot(steps, m["mean_rho"], "-s", color="tab:red", ms=3, lw=1.5, label="mean CCA coefficient vs final")
        ax2.set_ylim(0, 1.03)
        ax2.set_ylabel("similarity: mean CCA coefficient vs final step", color="tab:red", fontsize=8)
        ax.set_title(f"{m['name']}\nperformance at 95%: step {m['perf_step']}; coefficients: step {m['coef_step']}",
                     fontsize=9)
    fig.suptitle("PWCCA Fig A1: performance of the Fig 1 runs (blue) vs their CCA coefficients (red); dashed: "
                 f"95% convergence steps\n{stored_data_label(data)}", fontsize=10)
    fig.tight_layout()
    return fig
