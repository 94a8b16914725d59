"""Model definitions (PyTorch), defined once for every figure.

:class:`ToyMLP` is the SVCCA paper's toy regression net (section 2, Fig 1 and Fig 3): 1-D input,
``depth`` hidden layers of ``width`` tanh units, a linear 4-D output.  Every model here exposes
``hidden(x) -> list of activations`` (samples first) and ``forward_from(i, h)`` which continues
the forward pass from the output of hidden layer ``i`` (used to project a layer and read the
output).
"""
from __future__ import annotations

import torch
from torch import nn


class ToyMLP(nn.Module):
    """x (n, in_dim) -> out (n, out_dim); hidden layers ``layers[i] = tanh(W_i h_{i-1} + b_i)``."""

    def __init__(self, in_dim: int = 1, width: int = 200, depth: int = 4, out_dim: int = 4):
        super().__init__()
        dims = [in_dim] + [width] * depth
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(width, out_dim)

    def hidden(self, x: torch.Tensor) -> list:
        hs, h = [], x
        for lin in self.layers:
            h = torch.tanh(lin(h))
            hs.append(h)
        return hs

    def forward_from(self, i: int, h: torch.Tensor) -> torch.Tensor:
        """Output given hidden layer i's activations h (n, width)."""
        for lin in self.layers[i + 1:]:
            h = torch.tanh(lin(h))
        return self.out(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x)[-1])


class LSTMLM(nn.Module):
    """A stacked-LSTM language model: tokens (B, T) int64 -> logits (B, T, vocab).

    The layers are separate single-layer ``nn.LSTM`` modules so that :meth:`hidden` returns
    every layer's hidden states, a list of (B, T, hidden) tensors (the representations the
    PWCCA paper compares)."""

    def __init__(self, vocab: int = 32, embed: int = 32, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        dims = [embed] + [hidden] * layers
        self.layers = nn.ModuleList(nn.LSTM(a, b, batch_first=True) for a, b in zip(dims[:-1], dims[1:]))
        self.out = nn.Linear(hidden, vocab)

    def hidden(self, tokens: torch.Tensor) -> list:
        hs, h = [], self.embed(tokens)
        for lstm in self.layers:
            h, _ = lstm(h)
            hs.append(h)
        return hs

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(tokens)[-1])


MODELS = {"toy_mlp": ToyMLP, "lstm_lm": LSTMLM}


def build(spec: dict) -> nn.Module:
    """``{"name": "toy_mlp", **kwargs}`` -> model (a JSON-able spec, so it can key the cache)."""
    spec = dict(spec)
    name = spec.pop("name")
    if name not in MODELS:
        raise ValueError(f"model name: expected one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**spec)
