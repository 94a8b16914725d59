"""The SVCCA paper's toy regression nets (Fig 1, Fig 3), trained once per configuration.

Two (or more) :class:`~paper_repro.models.ToyMLP` nets that differ only in their random
initialisation, trained full batch with Adam on :func:`~paper_repro.data.toy_regression`.
The training runs are cached (:func:`~paper_repro.training.train_cached`), so fig1 and fig3
share them.
"""
from __future__ import annotations

import numpy as np

from .data import toy_regression

TOY_CONFIGS = {
    "tiny": {"n": 100, "width": 12, "depth": 4, "steps": 60, "lr": 3e-3},
    "small": {"n": 500, "width": 100, "depth": 4, "steps": 2000, "lr": 3e-3},
    "paper": {"n": 1000, "width": 200, "depth": 4, "steps": 6000, "lr": 1e-3},
}


def toy_nets(ctx, n_nets: int = 2) -> dict:
    """Train (or load) ``n_nets`` toy nets from different inits at ``ctx.scale``.

    Returns ``{"x": (n, 1), "y": (n, 4), "models": [ToyMLP], "losses": [(steps,)], "config"}``.
    Net i uses seed ``1000 * ctx.seed + i + 1``.
    """
    from .training import load_model, train_cached   # torch is imported only when a figure runs

    tc = TOY_CONFIGS[ctx.scale]
    x, y = toy_regression(tc["n"])
    models, losses = [], []
    for i in range(n_nets):
        cfg = {"model": {"name": "toy_mlp", "in_dim": 1, "width": tc["width"], "depth": tc["depth"],
                         "out_dim": 4},
               "data": {"name": "toy_regression", "n": tc["n"]},
               "steps": tc["steps"], "lr": tc["lr"], "batch_size": None, "loss": "mse",
               "checkpoints": [tc["steps"]], "seed": 1000 * ctx.seed + i + 1}
        run = train_cached(ctx, cfg, x, y, desc=f"toy net {i + 1}/{n_nets}")
        models.append(load_model(cfg, run["states"][-1], device=ctx.torch_device))
        losses.append(run["loss"])
    return {"x": x, "y": y, "models": models, "losses": losses, "config": tc}


def activations(model, x: np.ndarray) -> list:
    """Hidden activations of a toy net, a list of (n, width) float64 arrays."""
    import torch
    from .training import host, model_device
    with torch.no_grad():
        return [host(h) for h in model.hidden(torch.as_tensor(x, device=model_device(model)))]


def output_from(model, layer: int, h: np.ndarray) -> np.ndarray:
    """The net's output (n, 4) when hidden layer ``layer`` is replaced by ``h`` (n, width)."""
    import torch
    from .training import host, model_device
    with torch.no_grad():
        return host(model.forward_from(layer, torch.as_tensor(h, dtype=torch.float32, device=model_device(model))))
