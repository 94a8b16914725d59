"""Recurrent language models on synthetic sequences, trained once per configuration (shared by
the PWCCA paper's recurrent figures).  Default scale: :func:`~paper_repro.data.markov_sequences`
(no text corpus ships with the installed packages); PTB / WikiText-2 are not wired in yet."""
from __future__ import annotations

import numpy as np

from .data import markov_sequences


def lm_train_config(cfg: dict, layers: int, checkpoints: list, seed: int) -> dict:
    """The cache key / training config of an LSTM LM; cfg holds vocab, embed, hidden, length,
    n_train, steps, batch, lr."""
    return {"model": {"name": "lstm_lm", "vocab": cfg["vocab"], "embed": cfg["embed"], "hidden": cfg["hidden"],
                      "layers": layers},
            "data": {"name": "markov_sequences", "n": cfg["n_train"], "length": cfg["length"],
                     "vocab": cfg["vocab"], "seed": seed},
            "steps": cfg["steps"], "lr": cfg["lr"], "batch_size": cfg["batch"], "loss": "lm",
            "checkpoints": sorted(set(checkpoints)), "seed": 1000 * seed + layers}


def train_lm(ctx, cfg: dict, layers: int, checkpoints: list, seed: int):
    """Train (or load) an LSTM LM; returns (train config, run dict of :func:`train_cached`)."""
    from .training import train_cached
    tcfg = lm_train_config(cfg, layers, checkpoints, seed)
    train = markov_sequences(cfg["n_train"], cfg["length"], cfg["vocab"], seed)
    return tcfg, train_cached(ctx, tcfg, train, train, desc=f"{layers}-layer LSTM LM")


def held_out(cfg: dict, n: int, length: int, seed: int) -> np.ndarray:
    """Held-out sequences from the same chain (a separate draw: a different (n, length) stream)."""
    return markov_sequences(n, length + 1, cfg["vocab"], seed)[:, 1:]


def hidden_states(tcfg: dict, state, tokens: np.ndarray) -> list:
    """Every layer's hidden states, a list of (n, T, hidden) float64 arrays."""
    import torch
    from .training import load_model
    model = load_model(tcfg, state)
    with torch.no_grad():
        return [h.double().numpy() for h in model.hidden(torch.as_tensor(tokens))]
