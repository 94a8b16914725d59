"""PWCCA paper (Morcos et al. 2018), Fig 1: (a-c) the sorted CCA coefficients of a layer at
training step t against the same layer at the final step, one curve per checkpoint, for a CNN
and two recurrent LMs; (d-f) the CCA distance over training of the top-k ("signal") and
bottom-k ("noise") CCA vectors of the layer at t_early vs T/2 (definitions:
:mod:`paper_repro.pwcca_dynamics`).

Default scale:
- CNN: the SVCCA convnet run on digits (``paper_repro.runs.svcca_run(ctx, "convnet")``, shared
  with the SVCCA figures through the cache; checkpoints every 5% of 2000 steps), layer fc1 (64
  ReLU units), datapoints = all 1797 digits images (no translation).  The paper: its CIFAR-10
  CNN.
- "PTB" / "WT2": stand-ins -- the 3-layer and 5-layer LSTM LMs of pwcca-fig6 (same cached runs;
  64 units, synthetic first-order Markov sequences over 32 tokens, 1000 steps), top LSTM layer,
  datapoints = hidden states at every step after a 10-token burn-in of 500 held-out sequences
  (10000).  Not PTB / WikiText-2 (at ``--scale paper`` pwcca-fig6's configuration trains the
  3-layer model on PTB and the 5-layer one on WikiText-2 from ``--data-dir``); the two
  stand-ins share the chain and differ in depth (the paper's WT2 dynamics image is its 5-layer
  "deeper LSTM").
- k: the paper's top / bottom 100 of layers ~500 wide; here k = 20% of the canonical pairs
  (13 of 64).  t_early = the checkpoint nearest 20% of training, or, when the run has not started to
  learn by then, the first checkpoint where its performance has made half of its final improvement
  (:func:`paper_repro.pwcca_dynamics.coefficient_dynamics`); T/2 = nearest 50%.
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..pwcca_dynamics import compute_runs, stored_data_label
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-fig1", title="sorted CCA coefficients over training; signal vs noise CCA vectors",
                  time_small="~40 s",
                  needs=("torch (CPU)", "SVCCA convnet run (shared)", "pwcca-fig6 LSTM LM runs (shared)",
                         "synthetic sequences (PTB / WikiText-2 from --data-dir at paper scale)"))

_COMMON = {"cnn_layer": "fc1", "lm_names": ["PTB stand-in (3-layer)", "WT2 stand-in (5-layer)"], "lm_depths": [3, 5],
           "early_frac": 0.2, "learned_frac": 0.5, "mid_frac": 0.5, "k_frac": 0.2, "perf_frac": 0.95,
           "change_tol": 0.05}
CONFIGS = {
    "tiny": dict(_COMMON, cnn_images="all"),
    "small": dict(_COMMON, cnn_images="all"),
    "paper": dict(_COMMON, cnn_images="test", lm_names=["PTB (3-layer)", "WikiText-2 (5-layer)"]),
}
# signal vs noise: after t_early the noise vectors' distance must be at least this multiple of the signal's
NOISE_OVER_SIGNAL = 2.0
DECORRELATED = 0.25  # the noise vectors' distance to the final layer: at least this (they decorrelated)
MANY = 0.25          # "many coefficients": at least this share still moves after performance converged


def compute(ctx) -> dict:
    return compute_runs(ctx, ctx.config(CONFIGS))


def _signal_noise(m):
    steps = m["steps"]
    i_e, i_mid = steps.index(m["early_step"]), steps.index(m["mid_step"])
    s, n = np.asarray(m["signal_distance"], dtype=float), np.asarray(m["noise_distance"], dtype=float)
    ratio = n[i_e + 1:] / np.maximum(s[i_e + 1:], 1e-12)
    return {"signal_at_T": float(s[-1]), "noise_at_T": float(n[-1]), "signal_max_after_early": float(s[i_e + 1:].max()),
            "noise_min_after_early": float(n[i_e + 1:].min()), "min_noise_over_signal_after_early": float(ratio.min()),
            "noise_at_mid": float(n[i_mid]), "noise_change_mid_to_T": float(n[-1] - n[i_mid]),
            "signal_change_mid_to_T": float(s[-1] - s[i_mid])}


def check(data) -> ClaimCheck:
    meas, ok = {}, True
    for m in data["models"]:
        sn = _signal_noise(m)
        changing = m["frac_coefs_changing"] >= MANY
        stable = sn["min_noise_over_signal_after_early"] >= NOISE_OVER_SIGNAL
        decorr = sn["noise_at_T"] >= DECORRELATED
        meas[m["name"]] = dict(sn, k=m["k"], perf_step=m["perf_step"],
                               frac_coefs_changing_after_perf=m["frac_coefs_changing"],
                               many_change=bool(changing), signal_stable_vs_noise=bool(stable),
                               noise_decorrelated=bool(decorr))
        ok &= changing and stable and decorr
    return ClaimCheck(
        claim=("many CCA coefficients keep changing after performance converges; the top (signal) CCA vectors "
               "stay stable while the bottom (noise) ones decorrelate"),
        statistic=(f"per model: (1) share of coefficient indices whose value (vs the final step) still moves by "
                   f"> {data['change_tol']} between the step where performance reached {data['perf_frac']:.0%} of its "
                   f"final improvement and the last-but-one checkpoint, >= {MANY}; (2) at every checkpoint after "
                   f"t_early the CCA distance of the bottom-k (t_early vs T/2) vectors to the layer is >= "
                   f"{NOISE_OVER_SIGNAL}x that of the top-k; (3) the bottom-k vectors' distance to the final layer "
                   f">= {DECORRELATED}; holds iff all three for every model.  Reported, not tested: the change "
                   f"from T/2 to T (the bottom-k are selected as least correlated with the layer at T/2, so T/2 is "
                   f"the noise curve's peak by construction)"),
        measured=meas, holds=bool(ok),
        comparison=tuple(vs(f"{name}: noise / signal CCA distance after t_early (min), noise distance at T",
                            "signal stable, noise decorrelates (curves; no number given)",
                            f"{v['min_noise_over_signal_after_early']:.1f}x, {v['noise_at_T']:.2f}",
                            "Morcos et al. 2018, Fig 1d-f") for name, v in meas.items()),
        note=(f"{stored_data_label(data)}; the CNN layer is fc1, the LMs are pwcca-fig6's runs; k = 20% of the canonical pairs "
              "(the paper: 100 of ~500); the comparison with the final step is trivially 1 at the last checkpoint, "
              "so (1) stops at the last-but-one"))


def draw(data):
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    models = data["models"]
    fig, axes = plt.subplots(2, len(models), figsize=(4.8 * len(models), 7.4))
    cmap = plt.get_cmap("viridis")
    for j, m in enumerate(models):
        ax = axes[0, j]
        steps = np.asarray(m["steps"])
        norm = Normalize(vmin=0, vmax=steps[-1])
        for s, c in zip(steps, m["coefficients"]):
            ax.plot(np.arange(1, len(c) + 1), c, color=cmap(norm(s)), lw=1.2)
        ax.set_title(f"{'abc'[j]}) {m['name']}\n{m['what']}", fontsize=9)
        ax.set_xlabel("CCA coefficient index (sorted)")
        ax.set_ylim(0, 1.03)
        ax.grid(alpha=0.3)
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="training step t", pad=0.02)
        ax = axes[1, j]
        ax.plot(steps, m["signal_distance"], "k-o", ms=3, lw=2, label=f"top {m['k']} CCA vectors (signal)")
        ax.plot(steps, m["noise_distance"], "-o", color="tab:red", ms=3, lw=2, label=f"bottom {m['k']} (noise)")
        ax.axvline(m["early_step"], color="0.5", ls="--", lw=1)
        ax.axvline(m["mid_step"], color="0.5", ls=":", lw=1)
        ax.axvline(m["perf_step"], color="tab:blue", ls="-.", lw=1, label="performance at 95%")
        ax.text(m["early_step"], 1.0, " t_early", fontsize=7, va="top", color="0.4")
        ax.text(m["mid_step"], 0.93, " T/2", fontsize=7, va="top", color="0.4")
        ax.set_title(f"{'def'[j]}) {m['name']}: vectors of t_early vs T/2", fontsize=9)
        ax.set_xlabel("training step t")
        ax.set_ylim(0, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="center right")
    axes[0, 0].set_ylabel("CCA coefficient rho (step t vs final step)")
    axes[1, 0].set_ylabel("CCA distance (1 - mean rho) to step t")
    fig.suptitle("PWCCA Fig 1: CCA coefficients over training; signal (top-k) vs noise (bottom-k) CCA vectors\n"
                 f"k = {data['k_frac']:.0%} of the canonical pairs; {stored_data_label(data)}", fontsize=10)
    fig.tight_layout()
    return fig
