"""Coefficient dynamics over training (PWCCA paper, Morcos et al. 2018, sec. 2.2, Fig 1 and A1):
shared by ``pwcca-fig1`` and ``pwcca-figA1`` so both read the same runs and the same numbers.

For one layer of one run with checkpoints t_0 = 0 < ... < t_K = T and representations
L(t) (n datapoints, p neurons):

- **sorted coefficients**: ``fastcca.cca(L(t), L(T)).coefficients`` (descending), one curve per
  checkpoint (Fig 1a-c); their mean is the mean-CCA similarity to the final step.
- **signal / noise CCA vectors** (Fig 1d-f): the CCA of L(t_early) with L(T/2) gives canonical
  variates ``V = (L(t_early) - mean) @ W`` (n, m), sorted by coefficient.  The top k columns
  (most correlated: "signal") and the bottom k ("noise") are two representations of their own;
  at every checkpoint t, their distance to L(t) is ``1 - mean rho`` of ``cca(V_top, L(t))``
  (resp. V_bottom).  Both are 0 at t_early by construction (V lies in L(t_early)'s span), and
  at T/2 they equal 1 - the mean of the top / bottom k coefficients of the t_early vs T/2 CCA.
  The paper uses k = 100 of layers ~500 wide; here ``k = round(k_frac * m)`` (k_frac = 0.2 at
  every scale, so ~100 of 512 at paper scale).
- **convergence steps** (Fig A1): :func:`convergence_step` -- the first checkpoint at which a
  curve reaches ``frac`` of its total improvement.

The runs: the SVCCA convnet (``paper_repro.runs.svcca_run(ctx, "convnet")``, shared with the
SVCCA figures; layer ``fc1``, datapoints = all digits images) and the LSTM LMs of ``pwcca-fig6``
(same configuration, so the same cached runs; top LSTM layer, datapoints = the hidden states at
every step after the burn-in of held-out sequences).
"""
from __future__ import annotations

import numpy as np

import fastcca


def convergence_step(steps, values, frac: float = 0.95, upto: int | None = None):
    """The first step at which ``values`` reaches ``frac`` of its improvement.

    steps: (K,) increasing; values: (K,) a curve that improves upward (pass -loss for a loss).
    Improvement is measured from values[0] to values[upto] (default the last point):
    progress(t) = (v(t) - v(0)) / (v(upto) - v(0)); the answer is steps[i] for the smallest
    i <= upto with progress >= frac (first passage: a later dip of a noisy test accuracy does
    not move it).  A curve with no improvement (v(upto) <= v(0)) converged at steps[0].  NaN
    values never count as converged.
    """
    s = np.asarray(steps)
    v = np.asarray(values, dtype=float)
    last = len(v) - 1 if upto is None else int(upto) % len(v)
    total = v[last] - v[0]
    if not np.isfinite(total) or total <= 0:
        return s[0].item()
    ok = (v[:last + 1] - v[0]) / total >= frac        # nan -> False
    return s[int(np.argmax(ok))].item()


def learning_started(steps, performance, higher_is_better: bool, frac: float = 0.5):
    """The first checkpoint where the performance has made ``frac`` of its final improvement (the
    run has started to learn): :func:`convergence_step` of accuracy, or of minus the log
    perplexity (the held-out cross entropy) for a language model."""
    p = np.asarray(performance, dtype=float)
    return convergence_step(steps, p if higher_is_better else -np.log(p), frac)


def nearest_index(steps, step: float) -> int:
    """Index of the checkpoint closest to ``step`` (ties: the earlier one)."""
    s = np.asarray(steps, dtype=float)
    return int(np.argmin(np.abs(s - step)))


def signal_noise_variates(x_early: np.ndarray, x_mid: np.ndarray, k: int | None = None,
                          k_frac: float | None = None, backend: str = "auto"):
    """Top-k and bottom-k canonical variates of x_early (n, p) from its CCA with x_mid (n, q).

    Give ``k`` (a count) or ``k_frac`` (k = max(1, round(k_frac * m)), m the number of canonical
    pairs the CCA found).

    Returns ``(top (n, k), bottom (n, k), rho (m,))``: ``V = (x_early - mean) @ W`` with W the
    canonical weights (unit-variance variates, ddof=1), columns in descending coefficient order;
    top = V[:, :k], bottom = V[:, m-k:].  k is clipped to m // 2 so the two sets are disjoint.
    """
    r = fastcca.cca(x_early, x_mid, weights=True, backend=backend)
    x = np.asarray(x_early, dtype=np.float64)
    v = (x - x.mean(0)) @ np.asarray(r.x_weights)
    m = v.shape[1]
    if (k is None) == (k_frac is None):
        raise ValueError("signal_noise_variates: give exactly one of k and k_frac")
    k = max(1, round(k_frac * m)) if k is None else int(k)
    k = max(1, min(k, m // 2))
    return v[:, :k], v[:, m - k:], np.asarray(r.coefficients)


def set_distance(v: np.ndarray, x: np.ndarray, backend: str = "auto") -> float:
    """CCA distance 1 - mean rho between a set of vectors v (n, k) and a representation x (n, p)."""
    return float(fastcca.mean_cca(v, x, backend=backend).distance)


def coefficient_dynamics(reps: list, steps: list, early_frac: float, mid_frac: float, k_frac: float,
                         backend: str = "auto", learning_step=None) -> dict:
    """Everything Fig 1 draws for one layer of one run.

    reps: per checkpoint the layer's representation (n, p); steps: the checkpoints (last = T).
    Returns coefficients (list per checkpoint, descending, vs the last checkpoint), mean_rho
    (per checkpoint), early / mid steps, k, the t_early vs T/2 coefficients, and the signal
    (top-k) / noise (bottom-k) distances to every checkpoint.

    t_early is the checkpoint nearest early_frac * T, or ``learning_step`` if that is later: the
    first checkpoint where the run's performance has made half of its final improvement
    (:func:`learning_started`).  A run that sits on a loss plateau for the first 30% of its steps
    (the 5-layer LSTM stand-in at seed 1: held-out perplexity ~20 up to step 300 of 1000) has not
    started to learn at 20% of them, and the "signal" CCA vectors of an untrained layer against
    T/2 say nothing about what training keeps stable.  T/2 is the checkpoint nearest mid_frac * T
    (at least the one after t_early).
    """
    final = reps[-1]
    coefs = [np.asarray(fastcca.cca(r, final, backend=backend).coefficients) for r in reps]
    T = steps[-1]
    i_e, i_m = nearest_index(steps, early_frac * T), nearest_index(steps, mid_frac * T)
    if learning_step is not None:
        i_e = max(i_e, list(steps).index(learning_step))
    if i_m <= i_e:
        i_m = min(i_e + 1, len(steps) - 1)
    top, bottom, rho_em = signal_noise_variates(reps[i_e], reps[i_m], k_frac=k_frac, backend=backend)
    return {"coefficients": [c.tolist() for c in coefs], "mean_rho": [float(c.mean()) for c in coefs],
            "early_step": steps[i_e], "mid_step": steps[i_m], "k": int(top.shape[1]),
            "early_mid_rho": rho_em.tolist(),
            "signal_distance": [set_distance(top, r, backend) for r in reps],
            "noise_distance": [set_distance(bottom, r, backend) for r in reps],
            "width": int(final.shape[1]), "n": int(final.shape[0])}


def one_layer(config: dict, state, x: np.ndarray, index: int, batch: int = 512, *, device) -> np.ndarray:
    """Layer ``index`` (of ``model.layer_names``) of a classifier checkpoint for images x, flattened
    to (n, features) float64; like :func:`paper_repro.classifiers.layer_outputs` but keeping only
    that layer (at paper scale all layers of 10000 CIFAR images would not fit in memory)."""
    import torch
    from .training import load_model
    model = load_model(config, state, device=device)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            h = model.hidden(torch.as_tensor(x[i:i + batch], device=device))[index]
            out.append(h.reshape(h.shape[0], -1).double().cpu().numpy())
    return np.concatenate(out)


def _cnn_model(ctx, cfg: dict, backend: str) -> dict:
    """The SVCCA convnet run (shared through the cache), layer cfg["cnn_layer"]: its dynamics
    over all images (cfg["cnn_images"]: "all" = train + test, "test"), and test accuracy."""
    from .classifiers import accuracy, image_data
    from .models import build
    from .runs import svcca_run
    tcfg, run = svcca_run(ctx, "convnet")
    xtr, _ = image_data(ctx, train=True)
    xte, yte = image_data(ctx, train=False)
    x = np.concatenate([xtr, xte]) if cfg["cnn_images"] == "all" else xte
    li = build(tcfg["model"]).layer_names.index(cfg["cnn_layer"])
    dev = ctx.torch_device
    reps = [one_layer(tcfg, s, x, li, device=dev) for s in run["states"]]
    steps = run["checkpoints"]
    perf = [accuracy(tcfg, s, xte, yte, device=dev) for s in run["states"]]
    dyn = coefficient_dynamics(reps, steps, cfg["early_frac"], cfg["mid_frac"], cfg["k_frac"], backend,
                               learning_started(steps, perf, True, cfg["learned_frac"]))
    stride = max(1, len(run["loss"]) // 200)
    return dict(dyn, name="CNN", what=f"SVCCA convnet, layer {cfg['cnn_layer']}", steps=steps,
                performance=perf, performance_name="test accuracy", higher_is_better=True,
                train_loss=run["loss"][::stride].tolist(), train_loss_stride=stride)


def _lm_models(ctx, cfg: dict, backend: str) -> list:
    """The LSTM LMs of pwcca-fig6 (its configuration at this scale, so the same cached runs):
    top-layer dynamics over held-out sequences, and held-out perplexity per checkpoint."""
    import torch
    from .figures.pwcca_fig6 import CONFIGS as FIG6
    from .lm import held_out, hidden_states, train_lm
    from .training import load_model
    lcfg = dict(FIG6[ctx.scale], seed=ctx.seed)
    seed, b = lcfg["seed"], lcfg["burn_in"]
    dev = ctx.torch_device
    out = []
    for name, depth in zip(cfg["lm_names"], cfg["lm_depths"]):
        tcfg, run = train_lm(ctx, lcfg, depth, lcfg["checkpoints"], seed)
        tokens = held_out(lcfg, lcfg["n_eval"], b + lcfg["length"], seed, layers=depth, data_dir=ctx.data_dir)
        tt = torch.as_tensor(tokens, device=dev)
        reps, perp = [], []
        for s in run["states"]:
            h = hidden_states(tcfg, s, tokens, device=dev)[-1]
            reps.append(h[:, b:].reshape(-1, h.shape[-1]))
            with torch.no_grad():
                logits = load_model(tcfg, s, device=dev)(tt)[:, b - 1:-1]
                nll = torch.nn.functional.cross_entropy(logits.reshape(-1, tcfg["model"]["vocab"]), tt[:, b:].reshape(-1))
            perp.append(float(np.exp(float(nll))))
        steps = run["checkpoints"]
        dyn = coefficient_dynamics(reps, steps, cfg["early_frac"], cfg["mid_frac"], cfg["k_frac"], backend,
                                   learning_started(steps, perp, False, cfg["learned_frac"]))
        stride = max(1, len(run["loss"]) // 200)
        out.append(dict(dyn, name=name, what=f"{depth}-layer LSTM LM, layer {depth} (top)", steps=steps,
                        performance=perp, performance_name="held-out perplexity", higher_is_better=False,
                        train_loss=run["loss"][::stride].tolist(), train_loss_stride=stride))
    return out


def compute_runs(ctx, cfg: dict) -> dict:
    """The three models of Fig 1 / A1 (CNN, two LMs), each with :func:`coefficient_dynamics`,
    its performance per checkpoint and the convergence steps (:func:`convergence_summary`)."""
    be = ctx.fastcca_backend
    models = [_cnn_model(ctx, cfg, be)] + _lm_models(ctx, cfg, be)
    for m in models:
        m.update(convergence_summary(m, cfg["perf_frac"], cfg["change_tol"]))
    return {"models": models, "k_frac": cfg["k_frac"], "perf_frac": cfg["perf_frac"],
            "change_tol": cfg["change_tol"], "data_label": data_label(ctx, cfg)}


def data_label(ctx, cfg: dict) -> str:
    """What Fig 1 / A1's models saw, for titles and notes: e.g. "CNN = SVCCA convnet on digits;
    LMs on synthetic Markov sequences (stand-ins for PTB / WT2)"."""
    from .classifiers import dataset_label
    from .figures.pwcca_fig6 import CONFIGS as FIG6
    from .lm import corpus_label, synthetic_note
    lm = corpus_label(FIG6[ctx.scale], cfg["lm_depths"])
    return (f"CNN = SVCCA convnet on {dataset_label(ctx)}; LMs on {lm}"
            + (" (stand-ins for PTB / WT2)" if synthetic_note(lm) else ""))


def stored_data_label(data: dict) -> str:
    """The label a Fig 1 / A1 JSON stored; JSON from before labels were stored is the default scale's."""
    return data.get("data_label", "CNN = SVCCA convnet on digits; LMs on synthetic Markov sequences "
                                  "(stand-ins for PTB / WT2)")


def convergence_summary(m: dict, frac: float, tol: float) -> dict:
    """When performance converged vs when the coefficients did, for one model of compute_runs.

    - perf_step: :func:`convergence_step` of the performance (accuracy; for perplexity its
      log, i.e. the held-out cross entropy, negated), to the last checkpoint;
    - coef_step: the same for the mean coefficient vs the final step, measured to the
      second-to-last checkpoint (at the last one the layer is compared with itself: all 1);
    - coef_change_after_perf: share of the mean coefficient's change (step 0 -> last-but-one)
      that comes after perf_step;
    - frac_coefs_changing: share of coefficient indices i with |rho_i(last-but-one) -
      rho_i(perf_step)| > tol (the curves of Fig 1a-c that still move once performance has
      converged).
    """
    steps = m["steps"]
    p = np.asarray(m["performance"], dtype=float)
    score = p if m["higher_is_better"] else -np.log(p)
    perf_step = convergence_step(steps, score, frac)
    mr = np.asarray(m["mean_rho"], dtype=float)
    coef_step = convergence_step(steps, mr, frac, upto=-2)
    ip = steps.index(perf_step)
    total = mr[-2] - mr[0]
    after = float((mr[-2] - mr[ip]) / total) if total > 0 and ip < len(steps) - 1 else 0.0
    a, b = np.asarray(m["coefficients"][min(ip, len(steps) - 2)]), np.asarray(m["coefficients"][-2])
    n = min(len(a), len(b))
    changing = float(np.mean(np.abs(b[:n] - a[:n]) > tol)) if n else 0.0
    return {"perf_step": perf_step, "coef_step": coef_step, "coef_change_after_perf": after,
            "frac_coefs_changing": changing}
