"""PWCCA paper (Morcos et al. 2018), appendix Fig A4: as Fig A3 (a stacked LSTM LM; the distance
of its hidden state at step j to the state at the last step, per layer, cosine / Euclidean / CCA),
but the input is one token repeated for ``repeat`` steps, the repeat starting at different points
of the sequence.

Setup (shared with ``pwcca-figA3``: the same configuration, so the same cached LM): the LSTM LM
trained on synthetic first-order Markov sequences (:func:`paper_repro.data.markov_sequences`,
32 tokens; not PTB).  Datapoints: the held-out sequences of Fig A3.  For a start point s, each
sequence's input is its first s tokens, then its token at position s repeated ``repeat`` times
(:func:`repeated_input`).  At every step j (the s context steps and the repeated ones) a layer's
representation is the (sequences, hidden) matrix of its hidden states.  Distances of step j to
the last repeated step as in Fig A3 (cosine: mean 1 - cos; Euclidean: mean ||h_j - h_R|| over
mean ||h_R||; CCA: PWCCA distance, paper definition).  No burn-in prefix here: the start point
*is* the amount of preceding context (s = 0, the first token repeated from the start, gives at
most ``vocab`` distinct states, fewer than the neurons, so the smallest s is 1).

Reading of the paper's claim ("early repeats look similar, late ones do not"): a repeat that
starts early in the sequence gives states close to the repeat's last state; one that starts late
does not.  The statistic is the mean distance over the repeated steps per start point.  The
figure also draws the context steps before the repeat (x < 0), for the other possible reading
(states before a repeat differ from its end, states within it do not).
"""
from __future__ import annotations

import numpy as np

from ..analysis import pwcca_distance
from ..claims import ClaimCheck, vs
from ..lm import stored_corpus_label, synthetic_note
from ..registry import FigureInfo
from .pwcca_figA3 import CONFIGS as A3_CONFIGS

INFO = FigureInfo(id="pwcca-figA4", title="as A3 with one input repeated for 20 steps from different starts",
                  time_small="~13 s",
                  needs=("torch (CPU)", "the LSTM LM of pwcca-figA3 (cached, shared)",
                         "synthetic sequences (PTB from --data-dir at paper scale)"))

CONFIGS = {
    "tiny": dict(A3_CONFIGS["tiny"], repeat=8, starts=[1, 3, 6]),
    "small": dict(A3_CONFIGS["small"], repeat=20, starts=[1, 2, 4, 7, 10, 15, 20]),
    "paper": dict(A3_CONFIGS["paper"], repeat=20, starts=[1, 2, 4, 7, 10, 15, 20, 30]),
}
METRICS = ("cosine", "euclidean", "pwcca")


def repeated_input(tokens: np.ndarray, start: int, repeat: int) -> np.ndarray:
    """Each row's first ``start`` tokens, then its token at position ``start`` repeated ``repeat``
    times: tokens (n, L) int with L > start -> (n, start + repeat)."""
    tokens = np.asarray(tokens)
    if not 0 <= start < tokens.shape[1]:
        raise ValueError(f"start: expected 0 <= start < {tokens.shape[1]} (the sequence length), got {start}")
    if repeat < 1:
        raise ValueError(f"repeat: expected >= 1, got {repeat}")
    rep = np.repeat(tokens[:, start:start + 1], repeat, axis=1)
    return np.concatenate([tokens[:, :start], rep], axis=1)


def step_distances(h: np.ndarray, backend: str = "auto", failures: list | None = None, where: str = "") -> dict:
    """Distances of every step of h (n, R, d) to its last step: {"cosine", "euclidean", "pwcca"},
    each a list of R values (the last is 0 by definition).  cosine: mean over rows of
    1 - cos(h_j, h_R); euclidean: mean ||h_j - h_R|| / mean ||h_R||; pwcca: PWCCA distance
    (paper definition) between the (n, d) matrices, nan where fastcca raises LinAlgError."""
    R = h.shape[1]
    final = h[:, -1]
    nf = np.linalg.norm(final, axis=1)
    out = {m: [0.0] * R for m in METRICS}
    for j in range(R - 1):
        x = h[:, j]
        nx = np.linalg.norm(x, axis=1)
        out["cosine"][j] = float(np.mean(1.0 - np.sum(x * final, 1) / np.maximum(nx * nf, 1e-300)))
        out["euclidean"][j] = float(np.mean(np.linalg.norm(x - final, axis=1)) / np.mean(nf))
        out["pwcca"][j] = pwcca_distance(x, final, backend, failures, f"{where}, step {j + 1}")
    return out


def compute(ctx) -> dict:
    from ..lm import corpus_label, held_out, hidden_states, train_lm

    cfg = ctx.config(CONFIGS)
    seed, R = cfg["seed"], cfg["repeat"]
    a3 = {k: v for k, v in cfg.items() if k not in ("repeat", "starts")}
    tcfg, run = train_lm(ctx, a3, a3["layers"], [a3["steps"]], seed)       # = pwcca-figA3's run
    # Fig A3's held-out sequences (longer ones if a start point lies beyond them)
    test = held_out(a3, a3["n_eval"], max(a3["burn_in"] + a3["length"], max(cfg["starts"]) + 1), seed,
                    layers=a3["layers"], data_dir=ctx.data_dir)
    failures = []
    dist = []                                          # start -> metric -> layer -> (start + R,)
    bar = ctx.stage("starts", len(cfg["starts"]))
    for s in cfg["starts"]:
        hs = hidden_states(tcfg, run["states"][-1], repeated_input(test, s, R), device=ctx.torch_device)
        per = [step_distances(h, ctx.fastcca_backend, failures, f"start {s}, layer {li + 1}")
               for li, h in enumerate(hs)]
        dist.append({m: [p[m] for p in per] for m in METRICS})
        bar.update()
    bar.close()
    return {"starts": cfg["starts"], "repeat": R, "layers": a3["layers"],
            "distance": dist, "n_eval": int(len(test)), "hidden": a3["hidden"], "vocab": tcfg["model"]["vocab"],
            "pwcca_failures": failures, "data_label": corpus_label(a3, [a3["layers"]])}


def _mean_before_last(d):
    d = np.asarray(d, dtype=float)[:-1]
    return float(np.mean(d)) if np.all(np.isfinite(d)) else float("nan")


def _spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)).astype(float), np.argsort(np.argsort(b)).astype(float)
    ra -= ra.mean()
    rb -= rb.mean()
    den = np.sqrt((ra @ ra) * (rb @ rb))
    return float(ra @ rb / den) if den > 0 else 0.0


def check(data) -> ClaimCheck:
    starts, R = data["starts"], data["repeat"]
    meas, ok = {}, True
    for m in METRICS:
        for li in range(data["layers"]):
            rep = [_mean_before_last(d[m][li][s:]) for s, d in zip(starts, data["distance"])]
            pre = [float(np.nanmean(np.asarray(d[m][li][:s], dtype=float))) for s, d in zip(starts, data["distance"])]
            rho = _spearman(starts, rep) if np.all(np.isfinite(rep)) else float("nan")
            meas[f"{m} layer {li + 1}"] = {"mean_distance_repeated_steps_per_start": rep,
                                           "spearman_start_vs_distance": rho,
                                           "mean_distance_context_steps_per_start": pre}
            if m == "pwcca":
                ok &= bool(np.isfinite(rho) and rho >= 0.5 and rep[0] < rep[-1])
    return ClaimCheck(
        claim="with one input repeated, repeats that start early in the sequence look similar (to the repeat's "
              "last state), repeats that start late do not",
        statistic=(f"per layer, the PWCCA distance of each repeated step to the last one (step {R} of the repeat), "
                   f"averaged over the repeated steps before it, per start point; holds iff, for every layer, it "
                   f"rises with the start point (Spearman >= 0.5) and the earliest start's is below the latest's.  "
                   f"Reported too: cosine / Euclidean, and the mean distance of the context steps before the repeat "
                   f"(the other reading of the claim: states before a repeat differ from its end, states in it do not)"),
        measured=dict(meas, pwcca_failed_points=len(data["pwcca_failures"])), holds=bool(ok),
        comparison=tuple(vs(f"layer {li + 1}: Spearman(start point, PWCCA distance of the repeated steps)",
                            "early repeats similar, late ones not (curves; no number given)",
                            meas[f"pwcca layer {li + 1}"]["spearman_start_vs_distance"], "Morcos et al. 2018, Fig A4")
                         for li in range(data["layers"])),
        note=f"{stored_corpus_label(data)}{synthetic_note(stored_corpus_label(data))}; FIGURES.md's wording of the claim is read as above; "
             "all repeated-step distances are small (the state settles within ~5 repeats), so 'late repeats do not "
             "look similar' holds only relative to early ones -- see the numbers"
             + ("; fastcca.pwcca raised LinAlgError at: " + "; ".join(data["pwcca_failures"])
                if data["pwcca_failures"] else ""))


def draw(data):
    import matplotlib.pyplot as plt
    L, R = data["layers"], data["repeat"]
    fig, axes = plt.subplots(L, 4, figsize=(18, 3.3 * L), squeeze=False)
    labels = {"cosine": "cosine distance", "euclidean": "Euclidean distance / ||h_last||",
              "pwcca": "CCA distance (PWCCA)"}
    cmap = plt.get_cmap("viridis")
    n = len(data["starts"])
    for li in range(L):
        for col, m in enumerate(METRICS):
            ax = axes[li, col]
            for k, (s, d) in enumerate(zip(data["starts"], data["distance"])):
                x = np.arange(len(d[m][li])) - s            # 0 = the first repeated token
                ax.plot(x, np.asarray(d[m][li], dtype=float), marker="o", ms=2, lw=1.2,
                        color=cmap(0.9 * k / max(1, n - 1)), label=f"repeat after {s} tokens")
            ax.axvspan(-0.5, R - 0.5, color="0.92", zorder=0)
            ax.set_title(f"layer {li + 1}: {labels[m]}", fontsize=10)
            ax.set_xlabel("step relative to the repeat's start (shaded: repeated input)")
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
        ax = axes[li, 3]                                    # zoom: the repeated steps, log scale
        for k, (s, d) in enumerate(zip(data["starts"], data["distance"])):
            y = np.asarray(d["pwcca"][li][s:-1], dtype=float)
            ax.semilogy(np.arange(len(y)), np.maximum(y, 1e-6), marker="o", ms=2, lw=1.2,
                        color=cmap(0.9 * k / max(1, n - 1)))
        ax.set_title(f"layer {li + 1}: CCA distance (PWCCA), repeated steps (log)", fontsize=10)
        ax.set_xlabel("repeated step (0 = first)")
        ax.grid(alpha=0.3, which="both")
        axes[li, 0].set_ylabel("distance to the last repeated step")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"PWCCA Fig A4: {L}-layer LSTM LM ({data['hidden']} units) on {stored_corpus_label(data)}: each "
                 f"sequence's token after s tokens of context repeated {R} times; {data['n_eval']} held-out sequences",
                 fontsize=10)
    fig.tight_layout()
    return fig
