"""PWCCA paper (Morcos et al. 2018), appendix Fig A2: a toy RNN without inputs whose hidden state
is rotated at every step; distance of the state at step t to the final state, measured over many
runs, with cosine distance, Euclidean distance and CCA distance.

Dynamics (our reading of "linear and linear + alpha*sigmoid"): ``h_{t+1} = R h_t`` (alpha = 0)
and ``h_{t+1} = R h_t + alpha * sigmoid(R h_t)``, R a fixed random orthogonal (p, p) matrix,
h_0 ~ N(0, I) independently per run.  The runs are the datapoints: at step t the representation
is the (runs, p) matrix of hidden states.
- cosine distance: mean over runs of 1 - cos(h_t, h_T);
- Euclidean distance: mean over runs of ||h_t - h_T||, divided by the mean ||h_T||;
- CCA distance: PWCCA distance (the paper's definition, fastcca.pwcca) between the (runs, p)
  matrices at t and T; mean CCA distance is in the JSON too.
A rotation is an invertible linear map, so CCA sees h_t and h_T as the same representation
(distance 0 to rounding, up to the eps ridge) while the per-run metrics see unrelated vectors.
"""
from __future__ import annotations

import numpy as np

import fastcca

from ..claims import ClaimCheck, vs
from ..data import random_orthogonal
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-figA2", title="toy RNN: cosine / Euclidean / CCA distance to the final state",
                  time_small="~4 s", needs=("synthetic data", "fastcca core"))

CONFIGS = {
    "tiny": {"p": 10, "runs": 100, "steps": 8, "alphas": [0.0, 1.0]},
    "small": {"p": 50, "runs": 1000, "steps": 50, "alphas": [0.0, 1.0]},
    "paper": {"p": 100, "runs": 5000, "steps": 100, "alphas": [0.0, 1.0]},
}
METRICS = ("cosine", "euclidean", "pwcca", "mean_cca")


def _simulate(p, runs, steps, alpha, rot, rng):
    h = rng.standard_normal((runs, p))
    states = [h]
    for _ in range(steps):
        z = h @ rot.T
        h = z + alpha / (1.0 + np.exp(-z)) if alpha else z
        states.append(h)
    return states


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    rng = np.random.default_rng([cfg["seed"], 21])
    p, runs, steps = cfg["p"], cfg["runs"], cfg["steps"]
    rot = random_orthogonal(p, rng)
    panels = []
    bar = ctx.stage("distances", len(cfg["alphas"]) * steps)
    for alpha in cfg["alphas"]:
        states = _simulate(p, runs, steps, alpha, rot, rng)
        final = states[-1]
        nf = np.linalg.norm(final, axis=1)
        dist = {m: [] for m in METRICS}
        for t in range(steps):
            x = states[t]
            nx = np.linalg.norm(x, axis=1)
            dist["cosine"].append(float(np.mean(1.0 - np.sum(x * final, 1) / (nx * nf))))
            dist["euclidean"].append(float(np.mean(np.linalg.norm(x - final, axis=1)) / np.mean(nf)))
            mom = fastcca.Moments.from_arrays(x, final, backend=ctx.fastcca_backend)
            dist["pwcca"].append(fastcca.pwcca(mom).distance)
            dist["mean_cca"].append(fastcca.mean_cca(mom).distance)
            bar.update()
        for m in METRICS:
            dist[m].append(0.0)                  # t = T: every metric is 0 against itself
        panels.append({"alpha": alpha, "distance": dist})
    bar.close()
    return {"p": p, "runs": runs, "steps": steps, "t": list(range(steps + 1)), "panels": panels,
            "data_label": f"synthetic toy RNN ({p} units, a random rotation, {runs} runs)"}


def check(data) -> ClaimCheck:
    meas = {}
    ok = True
    for pan in data["panels"]:
        d = pan["distance"]
        a = f"alpha={pan['alpha']:g}"
        meas[a] = {"max_pwcca": max(d["pwcca"][:-1]), "mean_cosine": float(np.mean(d["cosine"][:-1])),
                   "mean_euclidean": float(np.mean(d["euclidean"][:-1]))}
        ok &= meas[a]["max_pwcca"] < 0.05 and meas[a]["mean_cosine"] > 0.3 and meas[a]["mean_euclidean"] > 0.3
    return ClaimCheck(
        claim="CCA sees the rotated RNN states as similar to the final state; cosine and Euclidean distance do not",
        statistic=("over steps t < T: holds iff, for every alpha, the largest PWCCA distance to the final state "
                   "is < 0.05 while the mean cosine and mean normalised Euclidean distances are > 0.3"),
        measured=meas, holds=bool(ok),
        comparison=tuple(vs(f"{a}: largest PWCCA distance / mean cosine / mean Euclidean distance to the final state",
                            "CCA ~0, the others large (curves; no number given)",
                            f"{m['max_pwcca']:.3f} / {m['mean_cosine']:.2f} / {m['mean_euclidean']:.2f}",
                            "Morcos et al. 2018, Fig A2") for a, m in meas.items()))


def draw(data):
    import matplotlib.pyplot as plt
    n = len(data["panels"])
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.6), squeeze=False, sharey=True)
    t = np.asarray(data["t"])
    style = {"cosine": ("cosine distance", "tab:blue"), "euclidean": ("Euclidean distance / ||h_T||", "tab:orange"),
             "pwcca": ("CCA distance (PWCCA)", "tab:red")}
    for ax, pan in zip(axes[0], data["panels"]):
        for m, (label, color) in style.items():
            ax.plot(t, pan["distance"][m], label=label, color=color, marker="o", ms=2, lw=1)
        kind = "linear (h <- R h)" if pan["alpha"] == 0 else f"h <- R h + {pan['alpha']:g} sigmoid(R h)"
        ax.set_title(kind, fontsize=10)
        ax.set_xlabel("step t")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("distance to the final state h_T")
    axes[0][0].legend(fontsize=8, loc="center right")
    fig.suptitle(f"PWCCA Fig A2: toy RNN, {data['p']} units, {data['runs']} runs, {data['steps']} steps",
                 fontsize=11)
    fig.tight_layout()
    return fig
