"""Freeze training (SVCCA paper, Raghu et al. 2017, sec. 4.1 / Fig 5): train an image classifier
while freezing its layers bottom-up, and record the test accuracy along the way.

The network's *units* are its stages that hold parameters, bottom to top (:func:`freeze_units`:
for the SVCCA convnet c1, c2, bn1, c3, c4, c5, bn2, fc1, bn3, fc2, bn4, logits; for the ResNet
conv, every residual block, bn, logits -- the paper freezes whole residual blocks).  With L units
and S steps, unit i (1-based) is trained for the first ``round(i / L * S)`` steps and frozen from
then on (:func:`freeze_schedule`; the top unit is never frozen before the end).  Frozen means:
its parameters get ``requires_grad = False`` (no gradient, so Adam skips them and autograd stops
below the lowest trainable unit) AND the unit is put in eval mode, so BatchNorm running statistics
stop updating and the unit normalises with them -- the layer is a fixed function from then on.

The training itself is the one of :func:`paper_repro.training.train_cached` (Adam, cross entropy,
random batches from ``default_rng(seed)``, random translations, ``torch.manual_seed(seed)`` for the
init), so a run without freezing follows the same batches as a freeze run of the same seed until
the first freeze step: baseline and freeze runs are paired.

:func:`freeze_run` caches the result in the :class:`~paper_repro.cache.Cache` (kind ``"freeze"``,
keyed by :func:`freeze_config`).
"""
from __future__ import annotations

import time

import numpy as np

from .classifiers import classifier_config, image_data, training_labels
from .models import build
from .training import random_translate

FREEZE_VERSION = 1


def freeze_units(model) -> list:
    """``[(layer name, module)]``: the stages of ``model`` (a paper_repro classifier) that hold
    parameters, bottom to top; the name is the stage's output layer (``model.layer_names[j + 1]``)."""
    return [(model.layer_names[j + 1], stage) for j, stage in enumerate(model.stages)
            if any(True for _ in stage.parameters())]


def freeze_schedule(n_units: int, steps: int) -> list:
    """The step after which unit i (0-based) is frozen: ``round((i + 1) / n_units * steps)``
    (the update of step s, 1-based, is the last one a unit with value s receives)."""
    return [int(round((i + 1) / n_units * steps)) for i in range(n_units)]


def freeze_config(ctx, model: dict, steps: int, lr: float, batch_size: int, translate: int, seed: int,
                  freeze: bool, eval_every: int) -> dict:
    """The cache key of one run: :func:`~paper_repro.classifiers.classifier_config` plus
    ``freeze`` (bool), ``eval_every`` and the loop's version."""
    cfg = classifier_config(ctx, model, steps=steps, lr=lr, batch_size=batch_size, checkpoints=[steps],
                            seed=seed, translate=translate)
    cfg.update({"freeze": bool(freeze), "eval_every": int(eval_every), "freeze_version": FREEZE_VERSION})
    return cfg


def _apply_modes(model, frozen_modules) -> None:
    model.train()
    for m in frozen_modules:
        m.eval()


def train_with_freezing(config: dict, x, y, x_test, y_test, *, device, bar=None,
                        snapshot_steps=()) -> dict:
    """Train ``build(config["model"])`` on (x, y), freezing units bottom-up when
    ``config["freeze"]``; test accuracy on (x_test, y_test) at steps 0, eval_every, ..., steps.

    Returns ``{"eval_steps" (E,), "test_acc" (E,), "loss" (steps,), "freeze_steps" (L,) (-1 when not
    freezing), "unit_names" (L,) str, "unit_params" (L,), "train_seconds", "states": {step:
    state_dict copy}}`` (``states`` only for ``snapshot_steps``, for tests).  bar: a progress
    :class:`~paper_repro.progress.Stage` advanced once per step (None: none).
    """
    import torch

    torch.manual_seed(int(config["seed"]))
    gen = np.random.default_rng(int(config["seed"]))
    model = build(config["model"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(config["lr"]),
                           weight_decay=float(config.get("weight_decay", 0.0)))
    units = freeze_units(model)
    steps = int(config["steps"])
    sched = freeze_schedule(len(units), steps) if config["freeze"] else [-1] * len(units)
    shift = int(config.get("translate", 0))
    bs = int(config["batch_size"])
    xt, yt = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
    xte = torch.as_tensor(x_test, device=device)
    every = int(config["eval_every"])
    eval_steps = sorted({0, steps} | set(range(0, steps + 1, every)))
    accs, losses, states = [], np.zeros(steps), {}
    frozen = []

    def evaluate():
        model.eval()
        with torch.no_grad():
            pred = np.concatenate([model(xte[i:i + 1000]).argmax(1).cpu().numpy()
                                   for i in range(0, len(xte), 1000)])
        _apply_modes(model, frozen)
        return float(np.mean(pred == y_test))

    def snapshot(step):
        if step in snapshot_steps:
            states[step] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    _apply_modes(model, frozen)
    accs.append(evaluate())
    snapshot(0)
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        if bar is not None:
            bar.update()
        for (name, unit), s in zip(units, sched):
            if s == step - 1 and s >= 0 and unit not in frozen:   # its last update was step s
                for p in unit.parameters():
                    p.requires_grad_(False)
                    p.grad = None
                frozen.append(unit)
                _apply_modes(model, frozen)
        idx = torch.as_tensor(gen.integers(0, len(x), size=bs), device=device)
        xb, yb = xt[idx], yt[idx]
        if shift:
            xb = random_translate(xb, shift, gen)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        losses[step - 1] = float(loss.detach())
        snapshot(step)
        if step in eval_steps:
            accs.append(evaluate())
    return {"eval_steps": np.asarray(eval_steps, dtype=np.int64), "test_acc": np.asarray(accs),
            "loss": losses, "freeze_steps": np.asarray(sched, dtype=np.int64),
            "unit_names": np.asarray([n for n, _ in units]),
            "unit_params": np.asarray([sum(p.numel() for p in u.parameters()) for _, u in units], dtype=np.int64),
            "train_seconds": np.asarray(time.perf_counter() - t0), "states": states}


def freeze_run(ctx, config: dict, desc: str = "freeze training") -> dict:
    """:func:`train_with_freezing` on the scale's image data (training labels per config; test =
    the held-out split), cached under ``("freeze", config)``; returns its arrays (no states)."""
    def run():
        x, y = image_data(ctx, train=True)
        xte, yte = image_data(ctx, train=False)
        with ctx.stage(desc, int(config["steps"])) as bar:
            out = train_with_freezing(config, x, training_labels(config, y), xte, yte, device=ctx.torch_device,
                                      bar=bar)
        out.pop("states")
        return out
    return ctx.cache.get_or_compute("freeze", config, run)


def updates_saved(freeze_steps, unit_params, steps: int) -> float:
    """Fraction of parameter updates (parameter x step) a freeze run skips: sum over units of
    ``params_i * (steps - freeze_step_i)`` over ``total params * steps``."""
    fs = np.asarray(freeze_steps, dtype=float)
    pr = np.asarray(unit_params, dtype=float)
    if np.any(fs < 0):
        return 0.0
    return float(np.sum(pr * (steps - fs)) / (pr.sum() * steps))
