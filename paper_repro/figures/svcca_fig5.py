"""SVCCA paper (Raghu et al. 2017), Fig 5: freeze training.  Test accuracy vs training step for
standard training and for freeze training (layers frozen bottom-up: with L units, unit i stops
updating at fraction i / L of the steps), SVCCA convnet and ResNet, mean over several runs.

Training: :mod:`paper_repro.freeze` (the same Adam / cross entropy / random-translation loop as
the shared SVCCA runs, with the architectures and optimiser settings of
:data:`paper_repro.runs.SVCCA_RUNS` for the scale, but fewer steps at the default scale so that
``runs`` paired runs per architecture fit the time budget).  Run r uses seed ``seed + r`` for both
its standard and its freeze run (same init, same batches until the first freeze).  Frozen = no
parameter updates and BatchNorm statistics fixed (the unit in eval mode).  Units: the stages with
parameters (convnet: c1, c2, bn1, c3, c4, c5, bn2, fc1, bn3, fc2, bn4, logits; ResNet: conv, each
residual block, bn, logits -- whole blocks are frozen, as in the paper).

Measured: the test accuracy (360 held-out digits at the default scale) averaged over the eval
points in the last 20 % of training and over the runs, freeze minus standard; and the fraction
of parameter updates the freeze runs skip (a count, not a timing).
"""
from __future__ import annotations

import numpy as np

from ..claims import ClaimCheck, vs
from ..classifiers import stored_data_label
from ..freeze import freeze_config, freeze_run, updates_saved
from ..registry import FigureInfo
from ..runs import SVCCA_RUNS, svcca_runs_label

INFO = FigureInfo(id="svcca-fig5", title="freeze training: test accuracy vs step, layers frozen bottom-up",
                  time_small="~52 s", needs=("torch (CPU)", "its own cached training runs (paper_repro.freeze)"))

CONFIGS = {
    "tiny": {"steps": {"convnet": 24, "resnet": 24}, "runs": 2, "eval_every": 6, "tail": 0.2, "tol": 0.01},
    "small": {"steps": {"convnet": 600, "resnet": 800}, "runs": 3, "eval_every": 25, "tail": 0.2, "tol": 0.01},
    "paper": {"steps": {"convnet": 160000, "resnet": 160000}, "runs": 10, "eval_every": 2000, "tail": 0.2,
              "tol": 0.01},
}
ARCHS = ("convnet", "resnet")


def compute(ctx) -> dict:
    cfg = ctx.config(CONFIGS)
    r = SVCCA_RUNS[ctx.scale]
    out = {"archs": {}, "runs": cfg["runs"], "tail": cfg["tail"], "tol": cfg["tol"],
           "data_label": svcca_runs_label(ctx).rsplit(";", 1)[0]}
    jobs = [(a, i, f) for a in ARCHS for i in range(cfg["runs"]) for f in (False, True)]
    res = {}
    for arch, i, fr in ctx.track(jobs, "runs"):
        c = freeze_config(ctx, r[arch], steps=cfg["steps"][arch], lr=r["lr"], batch_size=r["batch_size"],
                          translate=r["translate"], seed=ctx.seed + i, freeze=fr, eval_every=cfg["eval_every"])
        res[arch, i, fr] = freeze_run(ctx, c, desc=f"{arch} run {i}{' (freeze)' if fr else ''}")
    for arch in ARCHS:
        steps = cfg["steps"][arch]
        d = {"steps": steps, "eval_steps": res[arch, 0, False]["eval_steps"]}
        for fr, name in ((False, "standard"), (True, "freeze")):
            acc = np.stack([res[arch, i, fr]["test_acc"] for i in range(cfg["runs"])])
            d[name] = {"test_acc_runs": acc, "mean": acc.mean(0), "sd": acc.std(0),
                       "train_seconds": [float(res[arch, i, fr]["train_seconds"]) for i in range(cfg["runs"])]}
        f0 = res[arch, 0, True]
        d["freeze_steps"] = f0["freeze_steps"]
        d["unit_names"] = [str(s) for s in f0["unit_names"]]
        d["updates_saved"] = updates_saved(f0["freeze_steps"], f0["unit_params"], steps)
        tail = np.asarray(d["eval_steps"]) >= (1 - cfg["tail"]) * steps
        per_run = {name: d[name]["test_acc_runs"][:, tail].mean(1) for name in ("standard", "freeze")}
        diff = per_run["freeze"] - per_run["standard"]
        d["tail_acc"] = {name: float(v.mean()) for name, v in per_run.items()}
        d["tail_diff_runs"] = diff
        d["tail_diff"] = float(diff.mean())
        d["tail_diff_se"] = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        out["archs"][arch] = d
    return out


def check(data) -> ClaimCheck:
    a = data["archs"]
    holds = all(a[k]["tail_diff"] >= -data["tol"] for k in a)
    return ClaimCheck(
        claim="freezing the lower layers early (freeze training) costs no test accuracy (paper: it even helps)",
        statistic=(f"test accuracy averaged over the last {data['tail']:.0%} of training and over {data['runs']} "
                   f"paired runs, freeze minus standard; holds iff >= -{data['tol']} for both the convnet and the "
                   "ResNet"),
        measured={"tail_accuracy": {k: a[k]["tail_acc"] for k in a},
                  "freeze_minus_standard": {k: a[k]["tail_diff"] for k in a},
                  "standard_error": {k: a[k]["tail_diff_se"] for k in a},
                  "parameter_updates_skipped": {k: a[k]["updates_saved"] for k in a}},
        holds=bool(holds),
        comparison=tuple(vs(f"{k}: test accuracy, freeze minus standard", "> 0 (freezing improves generalisation; "
                            "no number given)", f"{a[k]['tail_diff']:+.4f}", "Raghu et al. 2017, Fig 5") for k in a),
        note=(f"{data['runs']} paired runs of {', '.join(str(a[k]['steps']) for k in a)} steps ({stored_data_label(data)}; "
              "paper: 10 runs of 160k steps on CIFAR-10); freeze - standard = "
              + ", ".join(f"{k} {a[k]['tail_diff']:+.4f} (SE {a[k]['tail_diff_se']:.4f})" for k in a)
              + "; the paper's improvement in generalisation is not part of the check"))


def draw(data):
    import matplotlib.pyplot as plt
    archs = list(data["archs"])
    fig, axes = plt.subplots(1, len(archs), figsize=(6.0 * len(archs), 4.0))
    axes = np.atleast_1d(axes)
    for ax, arch in zip(axes, archs):
        d = data["archs"][arch]
        x = np.asarray(d["eval_steps"])
        for name, color in (("standard", "C0"), ("freeze", "C3")):
            m, s = np.asarray(d[name]["mean"]), np.asarray(d[name]["sd"])
            ax.plot(x, m, color=color, lw=1.8, label=f"{name} training (mean of {data['runs']})")
            ax.fill_between(x, m - s, m + s, color=color, alpha=0.15, lw=0)
        for s in d["freeze_steps"][:-1]:
            ax.axvline(s, color="0.6", ls=":", lw=0.8)
        late = x >= 0.1 * d["steps"]
        lo = min(np.min(np.asarray(d[n]["mean"])[late] - np.asarray(d[n]["sd"])[late]) for n in ("standard", "freeze"))
        ax.set_ylim(max(0.0, lo - 0.02), 1.0)
        ax.set_xlabel("training step (grey dotted: a unit is frozen)")
        ax.set_title(f"{arch}: last {data['tail']:.0%} test accuracy {d['tail_acc']['standard']:.3f} standard, "
                     f"{d['tail_acc']['freeze']:.3f} freeze\n({len(d['unit_names'])} units frozen bottom-up; "
                     f"{d['updates_saved']:.0%} of parameter updates skipped)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("test accuracy")
    fig.suptitle("SVCCA Fig 5: freeze training (layer i frozen at fraction i/L of training) vs standard training\n"
                 f"{stored_data_label(data)}", fontsize=9)
    fig.tight_layout()
    return fig
