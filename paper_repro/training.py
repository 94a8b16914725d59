"""A training loop with checkpoints, cached on disk by its configuration.

:func:`train_cached` trains ``models.build(config["model"])`` on arrays ``(x, y)`` with Adam and
mean squared error (regression) or cross entropy (classification), saves the weights at the
configured steps, and stores everything in the :class:`~paper_repro.cache.Cache` under
``(kind="train", config)`` -- so figures that share a run train it once, and a second run of a
figure loads it.  The config must hold everything that changes the result (the data too, by a
name + parameters), since it is the cache key.
"""
from __future__ import annotations

import numpy as np

from .cache import arrays_to_state_dict, state_dict_to_arrays
from .models import build

TRAIN_VERSION = 2    # bump when this loop changes in a way that changes results (2: checkpoints were views)


def train_cached(ctx, config: dict, x: np.ndarray, y: np.ndarray, desc: str = "train") -> dict:
    """Train (or load) one model.

    config keys: ``model`` (spec for :func:`models.build`), ``steps``, ``lr``, ``batch_size``
    (None: full batch), ``loss`` ("mse" | "xent" | "lm": next-token
    cross entropy, with y the token array itself), ``checkpoints`` (list of steps; 0 = init),
    ``seed`` (init and batch order), ``data`` (a description of x, y: part of the cache key);
    optional: ``translate`` (int, default 0: random translations of every image of a batch by up
    to that many pixels, zero padded; x must be (n, c, h, w)), ``weight_decay`` (Adam's, default 0).

    Returns ``{"checkpoints": [steps], "states": [state_dict per checkpoint], "loss": (steps,)}``.
    """
    key = dict(config, train_version=TRAIN_VERSION)
    arrays = ctx.cache.get_or_compute("train", key, lambda: _train(ctx, config, x, y, desc))
    steps = [int(s) for s in arrays["checkpoint_steps"]]
    states = [arrays_to_state_dict(arrays, f"ckpt{s}__") for s in steps]
    return {"checkpoints": steps, "states": states, "loss": arrays["loss"]}


def load_model(config: dict, state, *, device):
    """The model of ``config`` with weights ``state`` (a state dict), in eval mode, on ``device``
    (a torch device: the run's ``ctx.torch_device``; required, so that no figure silently
    evaluates on the CPU what it trained on the GPU)."""
    m = build(config["model"])
    m.load_state_dict(state)
    m.eval()
    return m.to(device)


def init_model(spec: dict, seed: int, *, device="cpu"):
    """The model of ``spec`` (:func:`models.build`) at its initialisation for ``seed``: torch's
    global RNG seeded with ``seed``, then built (on the CPU, then moved to ``device``).  It is
    exactly the step-0 checkpoint of a :func:`train_cached` run with that model and seed (the
    loop initialises through this function).  Train mode, as built."""
    import torch
    torch.manual_seed(int(seed))
    return build(spec).to(device)


def model_device(model):
    """The torch device a model's parameters live on."""
    return next(model.parameters()).device


def host(t) -> np.ndarray:
    """A torch tensor (any device) as a float64 NumPy array on the host."""
    return t.detach().double().cpu().numpy()


def _train(ctx, config, x, y, desc):
    import torch

    device = ctx.torch_device
    model = init_model(config["model"], config["seed"], device=device)
    gen = np.random.default_rng(int(config["seed"]))
    opt = torch.optim.Adam(model.parameters(), lr=float(config["lr"]),
                           weight_decay=float(config.get("weight_decay", 0.0)))
    shift = int(config.get("translate", 0))
    xt = torch.as_tensor(x, device=device)
    yt = torch.as_tensor(y, device=device)
    loss_fn = {"mse": torch.nn.functional.mse_loss,
               "xent": torch.nn.functional.cross_entropy,
               # next-token prediction: logits (B, T, V) at steps 0..T-2 against tokens 1..T-1
               "lm": lambda logits, tok: torch.nn.functional.cross_entropy(
                   logits[:, :-1].reshape(-1, logits.shape[-1]), tok[:, 1:].reshape(-1)),
               }[config.get("loss", "mse")]
    steps = int(config["steps"])
    ckpts = sorted(set(int(s) for s in config.get("checkpoints", [steps])))
    bs = config.get("batch_size")
    out, losses = {}, np.zeros(steps)
    if 0 in ckpts:
        out.update(state_dict_to_arrays(model.state_dict(), "ckpt0__"))
    model.train()
    bar = ctx.stage(desc, steps)
    for step in range(1, steps + 1):
        if bs is None or bs >= len(x):
            xb, yb = xt, yt
        else:
            idx = torch.as_tensor(gen.integers(0, len(x), size=int(bs)), device=device)
            xb, yb = xt[idx], yt[idx]
        if shift:
            xb = random_translate(xb, shift, gen)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        losses[step - 1] = float(loss.detach())
        if step in ckpts:
            out.update(state_dict_to_arrays(model.state_dict(), f"ckpt{step}__"))
        bar.update()
    bar.close()
    out["checkpoint_steps"] = np.asarray(ckpts, dtype=np.int64)
    out["loss"] = losses
    return out


def random_translate(x, shift: int, gen: np.random.Generator):
    """Every image of x (b, c, h, w) moved by its own random (dy, dx) in [-shift, shift]^2, the
    uncovered border filled with zeros (pad then crop)."""
    import torch
    b, _, h, w = x.shape
    pad = torch.nn.functional.pad(x, (shift, shift, shift, shift))
    d = torch.as_tensor(gen.integers(0, 2 * shift + 1, size=(b, 2)), device=x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + d[:, :1])          # (b, h)
    cols = (torch.arange(w, device=x.device)[None, :] + d[:, 1:])          # (b, w)
    bi = torch.arange(b, device=x.device)[:, None, None]
    out = pad.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]  # (b, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()
