"""PWCCA paper (Morcos et al. 2018), appendix Fig A3: a stacked LSTM language model unrolled for
T steps; the distance of its hidden state at step j to the state at the last step, per layer,
with cosine, Euclidean and CCA (PWCCA) distance.

Default scale: no text corpus ships with the installed packages, so the LM is trained on
synthetic sequences (:func:`paper_repro.data.markov_sequences`: a fixed first-order Markov chain
over 32 tokens, 3 successors per token) -- not PTB.  ``--scale paper`` trains a larger model on
PTB from ``--data-dir`` (held-out windows from PTB's valid split).
Datapoints: held-out sequences (the same chain, a separate draw).  Each is run through a
``burn_in`` prefix first, and steps j = 1..T are counted after it -- as in the paper's LMs, whose
state is carried over from the preceding text.  (Without the prefix the state at j = 1 depends
on the first token only: ~30 distinct rows for 64 neurons, so every layer is a function of one
categorical token and any two of them are trivially similar.)  At step j a layer's
representation is the (sequences, hidden) matrix of its hidden states.
- cosine distance: mean over sequences of 1 - cos(h_j, h_T);
- Euclidean distance: mean over sequences of ||h_j - h_T||, divided by the mean ||h_T||;
- CCA distance: PWCCA distance (paper definition) between the (sequences, hidden) matrices.
"""
from __future__ import annotations

import numpy as np

from ..analysis import pwcca_distance
from ..claims import ClaimCheck, vs
from ..lm import CORPUS_LABELS, stored_corpus_label
from ..registry import FigureInfo

INFO = FigureInfo(id="pwcca-figA3", title="LSTM unrolled 20 steps: distance of step j to the last step",
                  time_small="~8 s", needs=("torch (CPU)", "synthetic sequences (PTB from --data-dir at paper scale)"))

CONFIGS = {
    "tiny": {"vocab": 16, "embed": 8, "hidden": 12, "layers": 2, "length": 8, "burn_in": 4, "n_train": 200,
             "n_eval": 200, "steps": 30, "batch": 32, "lr": 1e-2},
    "small": {"vocab": 32, "embed": 32, "hidden": 64, "layers": 2, "length": 20, "burn_in": 10, "n_train": 4000,
              "n_eval": 2000, "steps": 600, "batch": 64, "lr": 1e-2},
    "paper": {"vocab": None, "corpus": "ptb", "embed": 64, "hidden": 200, "layers": 3, "length": 20, "burn_in": 10, "n_train": 10**9,
              "n_eval": 5000, "steps": 3000, "batch": 64, "lr": 3e-3},
}
METRICS = ("cosine", "euclidean", "pwcca")


def compute(ctx) -> dict:
    import torch
    from ..lm import corpus_label, held_out, hidden_states, train_lm
    from ..training import load_model

    cfg = ctx.config(CONFIGS)
    seed, b = cfg["seed"], cfg["burn_in"]
    tcfg, run = train_lm(ctx, cfg, cfg["layers"], [cfg["steps"]], seed)
    test = held_out(cfg, cfg["n_eval"], b + cfg["length"], seed, layers=cfg["layers"], data_dir=ctx.data_dir)
    dev = ctx.torch_device
    hs = [h[:, b:] for h in hidden_states(tcfg, run["states"][-1], test, device=dev)]    # layers x (n, T, hidden)
    with torch.no_grad():
        tt = torch.as_tensor(test, device=dev)
        logits = load_model(tcfg, run["states"][-1], device=dev)(tt)
        test_loss = float(torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, tcfg["model"]["vocab"]), tt[:, 1:].reshape(-1)))
    T = cfg["length"]
    dist = {m: [[0.0] * T for _ in hs] for m in METRICS}
    failures = []
    bar = ctx.stage("distances", len(hs) * (T - 1))
    for li, h in enumerate(hs):
        final = h[:, -1]
        nf = np.linalg.norm(final, axis=1)
        for j in range(T - 1):
            x = h[:, j]
            nx = np.linalg.norm(x, axis=1)
            dist["cosine"][li][j] = float(np.mean(1.0 - np.sum(x * final, 1) / np.maximum(nx * nf, 1e-300)))
            dist["euclidean"][li][j] = float(np.mean(np.linalg.norm(x - final, axis=1)) / np.mean(nf))
            dist["pwcca"][li][j] = pwcca_distance(x, final, ctx.fastcca_backend, failures,
                                                  f"layer {li + 1}, step {j + 1}")
            bar.update()
    bar.close()
    return {"steps": list(range(1, T + 1)), "layers": len(hs), "distance": dist, "train_loss_last": float(
        np.mean(run["loss"][-20:])), "test_loss": test_loss, "n_eval": int(len(test)), "hidden": cfg["hidden"], "burn_in": b,
            "pwcca_failures": failures, "data_label": corpus_label(cfg, [cfg["layers"]])}


def _late_share(d):
    """Share of the total drop d[0] - d[-1] that happens in the last quarter of the steps."""
    d = np.asarray(d, dtype=float)
    if not np.all(np.isfinite(d)):
        return float("nan")
    q = int(np.floor(0.75 * (len(d) - 1)))
    total = d[0] - d[-1]
    return float((d[q] - d[-1]) / total) if total > 0 else 0.0


def check(data) -> ClaimCheck:
    shares = {m: [_late_share(d) for d in data["distance"][m]] for m in METRICS}
    holds = bool(np.all(np.asarray(shares["pwcca"]) >= 0.5))     # nan (a failed point) -> False
    return ClaimCheck(
        claim="the unrolled LSTM's state shows little similarity to the final state until late steps",
        statistic=("per layer, the share of the drop in PWCCA distance (step 1 -> last step) that happens in the "
                   "last quarter of the steps; holds iff >= 0.5 for every layer (cosine / Euclidean reported)"),
        measured={"late_share": shares, "pwcca_distance_at_step_1": [d[0] for d in data["distance"]["pwcca"]],
                  "test_loss_nats": data["test_loss"]},
        holds=bool(holds),
        comparison=(vs("share of the PWCCA distance drop in the last quarter of the steps (min over layers)",
                       "most of it late (curves; no number given)", float(np.nanmin(shares["pwcca"])),
                       "Morcos et al. 2018, Fig A3"),),
        note=(_note(data))
             + ("; fastcca.pwcca raised LinAlgError at: " + "; ".join(data["pwcca_failures"])
                if data["pwcca_failures"] else ""))


def _note(data) -> str:
    label = stored_corpus_label(data)
    if label == CORPUS_LABELS[None]:
        return "synthetic first-order Markov sequences, not PTB: the state needs little memory of the past"
    return label


def draw(data):
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    steps = np.asarray(data["steps"])
    labels = {"cosine": "cosine distance", "euclidean": "Euclidean distance / ||h_T||",
              "pwcca": "CCA distance (PWCCA)"}
    for ax, m in zip(axes, METRICS):
        for li, d in enumerate(data["distance"][m]):
            ax.plot(steps, np.asarray(d, dtype=float), marker="o", ms=2, lw=1, label=f"layer {li + 1}")
        ax.set_title(labels[m], fontsize=10)
        ax.set_xlabel("step j")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("distance of h_j to h_T")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"PWCCA Fig A3: {data['layers']}-layer LSTM LM ({data['hidden']} units) on "
                 f"{stored_corpus_label(data)}, {data['n_eval']} held-out sequences\nafter a {data['burn_in']}-token prefix "
                 f"(test loss {data['test_loss']:.3f} nats)",
                 fontsize=10)
    fig.tight_layout()
    return fig
