"""Checkpoints: each layer of a network at every training state against a reference state,
one pass over the data per state (:func:`compare_checkpoints`)."""
from __future__ import annotations

import copy
import os
from collections.abc import Mapping

import numpy as np
from tqdm.auto import tqdm

from ..grid import SimilarityMatrix, check_measure_arguments
from ._layers import torch  # the guarded import (None without PyTorch)
from ._layers import _check_fft_measure, _grid_params, _require_torch, _resolve_layers, _uses_fft
from .hooks import record


def _load_state(state, model, what: str):
    """A module for ``state``: a Module (used as is), a state dict (loaded into ``model``),
    a path (``torch.load(weights_only=True)``), or a zero-argument callable returning one."""
    if callable(state) and not isinstance(state, torch.nn.Module):
        state = state()
    if isinstance(state, torch.nn.Module):
        return state
    if isinstance(state, (str, os.PathLike)):
        try:
            state = torch.load(state, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{what}: cannot load {os.fspath(state)!r} as a state dict "
                             f"(torch.load(weights_only=True)): {exc}") from None
        if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
            state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise TypeError(f"{what}: expected a state dict, an nn.Module, a path or a callable returning one, "
                        f"got {type(state).__name__}")
    model.load_state_dict(state)
    return model


def compare_checkpoints(model, states, data, layers, *, reference=-1, labels=None, pairs: str = "same",
                        measure: str = "svcca", conv="flatten", input_index=0, eval_mode: bool = True,
                        backend: str = "auto", progress: bool = True, max_batches: int | None = None,
                        precision: str = "float64", **measure_kwargs):
    """Compare each layer of a network at every checkpoint with the network at a reference state (default: the last checkpoint), one pass over ``data`` per state.

    Parameters
    ----------
    model : torch.nn.Module
        The architecture; it is copied (``copy.deepcopy``) and never modified.
    states : sequence
        One model state per checkpoint: a state dict, a path to one (``torch.load`` with
        ``weights_only=True``; a ``{"state_dict": ...}`` wrapper is unwrapped), an ``nn.Module``,
        or a zero-argument callable returning one of these (loads lazily, one at a time).
    data, layers, conv, input_index, eval_mode, backend, progress, max_batches, precision
        As in :func:`record`.
    reference : int or a state
        The state compared against: an index into ``states`` (default -1) or a state as above.
    labels : sequence, optional
        Checkpoint labels (default "0", "1", ...).
    pairs : {"same", "all"}
        "same": layer l at checkpoint t against layer l at the reference (PWCCA Fig 6 / SVCCA
        Fig A3).  "all": for every checkpoint, every layer at t (rows) against every layer at
        the reference (columns) (SVCCA Fig 4).
    measure, **measure_kwargs
        As in :func:`compare_layers`.

    Returns
    -------
    SimilarityMatrix or list of SimilarityMatrix
        ``pairs="same"``: rows = layers, columns = checkpoints.  ``pairs="all"``: one layer x
        layer matrix per checkpoint.

    Raises
    ------
    ImportError, ValueError, TypeError, RuntimeError
        As :func:`compare_layers`; also a ``ValueError`` for a checkpoint that cannot be loaded
        as a state dict with ``weights_only=True``, or an unknown ``pairs``.

    Notes
    -----
    Each pass runs the checkpoint's network and the reference network on the same batches and
    accumulates their joint moments (the pass for the reference itself runs it alone).  The
    measure's ``x`` is the layer at the checkpoint (for pwcca its neurons weight by default).

    Examples
    --------
    >>> import torch
    >>> import fastcca.torch as ft
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh())
    >>> states = [{k: v + 0.1 * i for k, v in net.state_dict().items()} for i in range(3)]
    >>> data = [torch.randn(200, 8) for _ in range(3)]
    >>> g = ft.compare_checkpoints(net, states, data, ["1"], measure="cca", progress=False)
    >>> g.values.shape, round(float(g.values[0, -1]), 6)       # the last state against itself
    ((1, 3), 1.0)
    """
    _require_torch()
    if pairs not in ("same", "all"):
        raise ValueError(f"pairs: expected 'same' or 'all', got {pairs!r}")
    check_measure_arguments(measure, measure_kwargs)   # before any pass over the data
    if _uses_fft(conv):
        _check_fft_measure(measure, "requested for some layers")
    states = list(states)
    if not states:
        raise ValueError("states: empty; give at least one checkpoint")
    labels = [str(i) for i in range(len(states))] if labels is None else [str(x) for x in labels]
    if len(labels) != len(states):
        raise ValueError(f"labels: {len(labels)} labels for {len(states)} states")
    names = _resolve_layers(model, layers, "layers")
    ref_index = None
    if isinstance(reference, (int, np.integer)) and not isinstance(reference, bool):
        if not -len(states) <= reference < len(states):
            raise IndexError(f"reference: index {reference} out of range for {len(states)} states")
        ref_index = int(reference) % len(states)
        ref_model = _load_state(states[ref_index], copy.deepcopy(model), f"states[{ref_index}]")
        ref_label = labels[ref_index]
    else:
        ref_model = _load_state(reference, copy.deepcopy(model), "reference")
        ref_label = "reference"
    work = copy.deepcopy(model)
    rec_kw = dict(conv=conv, input_index=input_index, eval_mode=eval_mode, backend=backend,
                  progress=progress, max_batches=max_batches, precision=precision)
    values = np.empty((len(names), len(states)))
    mats, notes, n = [], [], 0
    for t, state in enumerate(tqdm(states, disable=not progress, desc="checkpoints", unit="state")):
        if t == ref_index:
            kt = kr = [(ref_label, nm) for nm in names]
            rec = record(ref_model, names, data, labels=(ref_label, "reference"),
                         fft_pairs=_wanted(kt, kr, pairs), **rec_kw)
        else:
            m_t = _load_state(state, work, f"states[{t}]")
            kt, kr = [(labels[t], nm) for nm in names], [("reference", nm) for nm in names]
            rec = record(m_t, names, data, model_b=ref_model, labels=(labels[t], "reference"),
                         fft_pairs=_wanted(kt, kr, pairs), **rec_kw)
        if pairs == "same":
            v, nt = rec.pairs(list(zip(kt, kr)), measure, **measure_kwargs)
            values[:, t] = v
            notes += [f"checkpoint {labels[t]}: {s}" for s in nt]
        else:
            mats.append(rec.grid(kt, kr, measure, row_title=f"layer at {labels[t]}",
                                 column_title=f"layer at {ref_label}", **measure_kwargs))
        n = rec._n_of(kt[0])
        del rec
    if pairs == "all":
        return mats
    return SimilarityMatrix(measure=measure, rows=tuple(nm or "output" for nm in names), columns=tuple(labels),
                            values=values, row_title="layer", column_title=f"checkpoint (vs {ref_label})",
                            n=n, params=_grid_params(measure, measure_kwargs, fft=_uses_fft(conv)),
                            notes=tuple(notes))


def _wanted(kt, kr, pairs):
    """The fft pairs a checkpoint pass needs: layer l at t with l at the reference, or all."""
    return list(zip(kt, kr)) if pairs == "same" else [(a, b) for a in kt for b in kr]
