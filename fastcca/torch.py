"""PyTorch integration: hook named modules, run the data through once, stream every hooked
output into joint moments, and compare every layer with every other (or every checkpoint with
a reference) without ever holding the activations.

Needs PyTorch (``pip install 'fastcca[torch]'``); ``import fastcca`` never imports torch, and
the functions here raise an ``ImportError`` saying so when it is missing.

Data
----
``data`` is a ``torch.utils.data.DataLoader`` or any iterable of batches.  A batch is a tensor
(the model input), or a tuple/list/dict whose element ``input_index`` (default 0: the ``x`` of
``(x, y)`` pairs; a key for dict batches) is the input; ``input_index=None`` passes the batch
itself to the model.  Tensor inputs are moved to the device of the model's first parameter.
The pass runs under ``torch.no_grad()``; with ``eval_mode=True`` (default) the models run in
eval mode (dropout off, BatchNorm running statistics), and every module's train/eval flag is
restored afterwards, also when the forward pass raises.  Hooks are always removed.

Layer outputs
-------------
A hooked module must return one tensor whose first axis is the batch.  ``(b, p)`` outputs are
used as is.  Outputs with more axes are taken as channels-first (``(b, c, h, w)`` from
``Conv2d``, ``(b, c, L)`` from ``Conv1d``), handled per ``conv``:

* ``"flatten"`` (default): ``(b, c*h*w)``, every (channel, position) a neuron;
* ``"fold"``: spatial positions become datapoints, ``(b*h*w, c)``, channels are the neurons
  (the SVCCA paper's treatment of conv layers before the DFT); layers are only comparable with
  layers of the same spatial size (their datapoints are the same (image, position) pairs);
* ``"mean"``: the spatial mean, ``(b, c)``;
* ``"fft"``: SVCCA's per-frequency DFT CCA (Raghu et al. 2017, section 3), computed by the
  conv module (:class:`fastcca.conv.joint.JointConvMoments`, :func:`fastcca.conv_cca`,
  :func:`fastcca.conv_svcca`): ``(b, c, h, w)`` outputs (``(b, c, L)`` as ``(b, c, L, 1)``)
  are NOT put into the joint scatter; instead, for every requested pair involving such a layer,
  the per-frequency block moments are accumulated in the same pass (each layer's ``rfft2``
  once per batch, each pair one batched block product).  A pair's value is ``conv_cca`` /
  ``conv_svcca`` of those moments (mean of the pooled per-frequency coefficients); layers of
  different spatial sizes compare their overlapping low frequencies.  Measures: "svcca",
  "cca"/"mean_cca" only (pwcca and linear_cka are not defined per frequency block).
  Mixed pairs: an fft conv layer against a dense layer (b, p) takes the dense layer as a
  (p, 1, 1) map, so only the DC frequency is compared -- which is CCA of the conv layer's
  spatial MEAN against the dense layer; against a conv layer recorded in another mode it is an
  error.  Pairs of 2-D layers always use the joint scatter (every mode is the identity there).

``conv`` is one mode for every layer or a dict ``{layer name: mode}`` (others: "flatten").

Memory
------
With ``P = sum_l p_l`` features over all hooked layers of both models (after the conv
reshaping), the state is one float64 (P, P) scatter plus a mean: ``8 P^2`` bytes.  A batch is
folded in by row chunks (a float64 buffer of about 4 MiB, at least 64 rows) with an in-place
``syrk``, so the accumulation peak is about ``8 P^2 + max(4 MiB, 512 P)`` bytes plus one batch
of the hooked outputs (``b * P`` values in the model's dtype) and the model's own forward
activations -- independent of the number of datapoints.  Computing the grid adds, per layer,
its whitening factor of at most (p_l, p_l) (at most another ``8 P^2``-ish bytes in all).  Example: 10 layers of 128 features, P = 1280: 13 MiB of state.

With ``conv="fft"``, add the per-frequency state of :class:`fastcca.conv.joint.JointConvMoments`
(complex128): ``16 F (c_a^2 + c_b^2 + c_a c_b)`` bytes for a pair of conv layers with ``F``
frequency classes (``F ~ h w / 2`` of the overlapping size), the diagonal stacks shared by all
pairs of a layer (per layer and partner size ``16 F c_l^2``, per requested pair ``16 F c_a c_b``),
plus per batch chunk its rfft temporaries (bounded by 64 MiB) and one pair's product at a time.
Example: 10 conv layers of 64 channels at 16 x 16 (F = 130), all 45 pairs: 55 x 8.5 MB = 0.47 GB.

Backends: the moments are accumulated on the CPU (``backend="cpu"``) or, for CUDA models with
``backend="auto"``/``"cuda"``, by the CUDA kernels when ``fastcca.kernels.cuda`` is available
(``"auto"`` falls back to copying each batch's outputs to the CPU when it is not); the
``conv="fft"`` per-frequency state too (its outputs then stay on the GPU).
"""
from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ._validation import PRECISIONS, check_choice
from .conv._inputs import MODES, conv_rows
from .backend import BackendUnavailableError, get_backend
from .grid import (MEASURES, JointMoments, SimilarityMatrix, check_measure_arguments, similarity_grid,
                   similarity_pairs)

try:  # optional dependency: importing this module never fails, using it without torch does
    import torch
except ImportError as _exc:  # pragma: no cover - exercised by a test that hides torch
    torch = None
    _TORCH_IMPORT_ERROR = _exc

__all__ = ["record", "compare_layers", "compare_checkpoints", "Recording", "LayerInfo", "CONV_MODES",
           "JointMoments", "SimilarityMatrix", "similarity_grid"]

#: the ``conv`` choices: the conv module's modes (:data:`fastcca.conv.MODES`; here the default is "flatten")
CONV_MODES = MODES
#: measures defined for conv="fft" pairs (mean CCA / SVCCA pooled over frequencies)
FFT_MEASURES = ("svcca", "cca", "mean_cca")
_FFT_GROUP = ("fft",)


def _require_torch() -> None:
    if torch is None:
        raise ImportError(
            "fastcca.torch needs PyTorch, which is not installed "
            f"({_TORCH_IMPORT_ERROR}). Install it with `pip install 'fastcca[torch]'`.")


# ---------------------------------------------------------------------------- layers
@dataclass
class LayerInfo:
    """A hooked layer of a :class:`Recording`.

    Parameters
    ----------
    model : str
        The label of the model it belongs to.
    name : str
        Its module name.
    shape : tuple
        The shape of one datapoint's output (without the batch axis).
    mode : str
        The conv mode asked for it (it applies to outputs with spatial axes).
    features : int
        The number of features it contributes.
    group : tuple
        The datapoint group it belongs to (layers are comparable within a group).

    Notes
    -----
    ``Recording.layers`` maps each ``(model label, name)`` key to one of these.

    Examples
    --------
    >>> import torch
    >>> import fastcca.torch as ft
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
    >>> rec = ft.record(net, ["1"], [torch.randn(20, 1, 6, 6)], conv="mean", progress=False)
    >>> info = rec.layers[("A", "1")]
    >>> info.shape, info.mode, info.features
    ((4, 4, 4), 'mean', 4)
    """
    model: str
    name: str
    shape: tuple
    mode: str
    features: int
    group: tuple


def _resolve_layers(model, layers, what: str) -> list[str]:
    named = dict(model.named_modules())
    if layers is None or isinstance(layers, (str, type)):
        layers = [] if layers is None else [layers]
    layers = list(layers)
    if not layers:
        sample = [n for n in named if n][:12]
        raise ValueError(f"{what}: no layers given; pass module names (from model.named_modules()), "
                         f"e.g. {sample}, or module types such as torch.nn.Linear")
    out = []
    for item in layers:
        if isinstance(item, type):
            found = [n for n, m in named.items() if isinstance(m, item) and n]
            if not found:
                raise ValueError(f"{what}: the model has no module of type {item.__name__}")
            out += found
        elif isinstance(item, str):
            if item not in named:
                names = [n for n in named if n]
                close = difflib.get_close_matches(item, names, n=5, cutoff=0.4)
                hint = (f"close names: {close}; " if close else "") + (
                    f"the model's modules: {names[:20]}" + (f" and {len(names) - 20} more" if len(names) > 20 else ""))
                raise ValueError(f"{what}: {type(model).__name__} has no module named {item!r}; {hint}")
            out.append(item)
        else:
            raise TypeError(f"{what}: expected module names (str) or module types, got {item!r}")
    return list(dict.fromkeys(out))


def _conv_mode(conv, name: str) -> str:
    mode = conv.get(name, "flatten") if isinstance(conv, Mapping) else conv
    if mode not in CONV_MODES:
        raise ValueError(f"conv: expected one of {', '.join(map(repr, CONV_MODES))} "
                         f"(or a dict layer -> mode), got {mode!r} for layer {name!r}")
    return mode


def _check_fft_measure(measure, what) -> None:
    """pwcca / linear_cka are not defined for fft-mode pairs: a clear error naming the options."""
    if measure in MEASURES and measure not in FFT_MEASURES:
        raise ValueError(
            f"measure={measure!r} is not defined for conv='fft' ({what}): the fft mode compares "
            "complex per-frequency blocks, and pwcca's projection weights and linear CKA are defined on "
            "real neurons. Use measure='svcca' or 'cca' (or 'mean_cca') with conv='fft', or "
            f"measure={measure!r} with conv='mean', 'fold' or 'flatten' for these layers.")


def _uses_fft(conv) -> bool:
    return conv == "fft" or (isinstance(conv, Mapping) and "fft" in conv.values())


def _fft_map(out, on_device: bool = False):
    """An output as a 4-D (b, c, h, w) tensor for the conv module: (b, p) -> (b, p, 1, 1),
    (b, c, L) -> (b, c, L, 1); on the CPU unless the conv state is on the GPU (``on_device``)."""
    if out.ndim == 2:
        out = out[:, :, None, None]
    elif out.ndim == 3:
        out = out[..., None]
    return out if on_device else out.cpu()


def _as_rows(out, mode: str):
    """A hooked output (b, ...) -> (rows, features) tensor and its datapoint group."""
    if out.ndim < 2:
        raise ValueError(f"output of shape {tuple(out.shape)}: expected (batch, features) or "
                         "(batch, channels, *spatial)")
    if out.ndim == 2:
        return out, ("points",)
    return conv_rows(out, mode), (("fold",) + tuple(out.shape[2:]) if mode == "fold" else ("points",))


def _device_of(model):
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return None


def _batch_input(batch, input_index):
    if input_index is None or torch.is_tensor(batch):
        return batch
    if isinstance(batch, Mapping):
        if input_index not in batch:
            raise KeyError(f"input_index: the batch is a dict with keys {list(batch)}; "
                           f"pass input_index=<the input's key> (got {input_index!r})")
        return batch[input_index]
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError("data: a batch is an empty tuple/list")
        return batch[input_index]
    return batch


def _to_device(x, device):
    if device is not None and torch.is_tensor(x) and x.device != device:
        return x.to(device, non_blocking=True)
    return x


def _key(layers: dict, layer) -> tuple:
    """``(model label, name)`` of ``layers`` (LayerInfo by key) for a layer given as that tuple
    or by its name alone."""
    if isinstance(layer, tuple) and layer in layers:
        return layer
    hits = [k for k in layers if k[1] == layer]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        close = difflib.get_close_matches(str(layer), [k[1] for k in layers], n=5, cutoff=0.4)
        raise KeyError(f"layer {layer!r} was not recorded; recorded: {list(layers)}"
                       + (f"; close names: {close}" if close else ""))
    raise KeyError(f"layer {layer!r} is in several models {hits}; name it as (model label, name)")


def _is_fft(layers: dict, key) -> bool:
    return layers[key].group == _FFT_GROUP


def _check_fft_modes(layers: dict, a, b) -> None:
    """An fft pair needs both conv maps in fft mode (or a dense layer): a clear error otherwise."""
    for k, other in ((a, b), (b, a)):
        info = layers[k]
        if not _is_fft(layers, k) and len(info.shape) > 1:
            raise ValueError(
                f"layers {other} (conv='fft') and {k} (conv={info.mode!r}, output {info.shape}) cannot "
                "be compared: an fft pair needs both conv maps in fft mode (or a dense (b, p) layer, "
                "taken as a (p, 1, 1) map); record both with conv='fft', or neither")


# ---------------------------------------------------------------------------- recording
class Recording:
    """The joint moments of the hooked layers of one or two models after one pass (what :func:`record` returns).

    Parameters
    ----------
    layers : dict
        ``(model label, module name)`` -> :class:`LayerInfo`.
    groups : dict
        Datapoint group -> its :class:`fastcca.JointMoments` (one group unless ``conv="fold"``
        layers of different spatial sizes were recorded).
    n_batches : int
        Batches seen.
    models : tuple of str
        The model labels.
    fft : JointConvMoments or None
        The per-frequency moments of the pairs involving ``conv="fft"`` conv layers (those layers
        are in no group).

    Notes
    -----
    Layers may be named by module name alone where that is unambiguous, or as
    ``(model label, name)``.

    Examples
    --------
    >>> import torch
    >>> import fastcca.torch as ft
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU())
    >>> rec = ft.record(net, ["0", "1"], [torch.randn(50, 8)] * 2, progress=False)
    >>> rec.key("1"), rec.n_batches
    (('A', '1'), 2)
    """

    def __init__(self, layers: dict, groups: dict, n_batches: int, models: tuple, fft=None):
        self.layers = layers
        self.groups = groups
        self.n_batches = n_batches
        self.models = models
        self.fft = fft

    def __repr__(self) -> str:
        return (f"Recording(models={list(self.models)}, layers={len(self.layers)}, "
                f"batches={self.n_batches}, groups={self.n})")

    def _is_fft(self, key) -> bool:
        return _is_fft(self.layers, key)

    def _fft_pair(self, a, b) -> bool:
        """Whether the pair is computed in fft mode (it involves a conv map recorded with conv='fft')."""
        return _is_fft(self.layers, a) or _is_fft(self.layers, b)

    def _n_of(self, key) -> int:
        return self.fft.n if self._is_fft(key) else self.joint(key).n

    def key(self, layer) -> tuple:
        """``(model label, name)`` for a layer given as that tuple or by its name alone."""
        return _key(self.layers, layer)

    def joint(self, layer) -> JointMoments:
        """The joint moments holding ``layer``."""
        key = self.key(layer)
        if self._is_fft(key):
            raise ValueError(f"layer {key} was recorded with conv='fft': it is not in the joint scatter; "
                             "its pairs' per-frequency moments are in .fft (rec.moments(a, b) gives a "
                             "fastcca.ConvMoments)")
        return self.groups[self.layers[key].group]

    @property
    def n(self) -> dict:
        """Datapoints per group (``("fft",)``: images of the conv='fft' pairs)."""
        out = {g: jm.n for g, jm in self.groups.items()}
        if self.fft is not None:
            out[_FFT_GROUP] = self.fft.n
        return out

    def moments(self, a, b):
        """The pair's moments (x = layer ``a``, y = layer ``b``): a :class:`fastcca.Moments` (any
        measure), or for a conv='fft' pair a :class:`fastcca.ConvMoments` (``conv_cca``,
        ``conv_svcca``)."""
        ka, kb = self.key(a), self.key(b)
        if self._fft_pair(ka, kb):
            self._check_fft_pairs([(ka, kb)])
            return self.fft.moments(ka, kb)
        self._same_group([(ka, kb)])
        return self.joint(ka).moments(ka, kb)

    def _check_fft_pairs(self, pairs) -> None:
        for a, b in pairs:
            _check_fft_modes(self.layers, a, b)
            if self.fft is None or not self.fft.has_pair(a, b):
                raise KeyError(f"pair ({a}, {b}) involves a conv='fft' layer but its per-frequency moments were "
                               "not accumulated; pass it (or fft_pairs='all') to record(..., fft_pairs=...)")

    def _same_group(self, pairs) -> None:
        for a, b in pairs:
            ga, gb = self.layers[a].group, self.layers[b].group
            if ga != gb:
                raise ValueError(
                    f"layers {a} and {b} have different datapoints ({_group_str(ga)} vs {_group_str(gb)}): "
                    "conv='fold' makes every spatial position a datapoint, so only layers with the same "
                    "spatial size can be compared; use conv='mean' or 'flatten' for these layers")

    def pairs(self, pairs, measure: str = "svcca", *, progress: bool = False, **kwargs):
        """Values of ``measure`` for each (a, b) pair of layers.

        Parameters
        ----------
        pairs : sequence of (a, b)
            Layer names or ``(model label, name)`` keys.
        measure : str
            As in :func:`compare_layers`; ``**kwargs`` its settings.
        progress : bool, default False

        Returns
        -------
        tuple
            ``(values, notes)``: a float64 array with one value per pair, and the notes.
        """
        keyed = [(self.key(a), self.key(b)) for a, b in pairs]
        fft = [i for i, (a, b) in enumerate(keyed) if self._fft_pair(a, b)]
        if fft:
            _check_fft_measure(measure, f"pair {keyed[fft[0]]}")
            self._check_fft_pairs([keyed[i] for i in fft])
        fft_set = set(fft)
        self._same_group([p for i, p in enumerate(keyed) if i not in fft_set])
        out = np.empty(len(keyed))
        notes = []
        for g, jm in self.groups.items():
            idx = [i for i, (a, _) in enumerate(keyed) if self.layers[a].group == g and i not in fft_set]
            if idx:
                v, nt = similarity_pairs(jm, [keyed[i] for i in idx], measure, progress=progress, **kwargs)
                out[idx] = v
                notes += list(nt)
        if fft:
            v, nt = _fft_values(self.fft, [keyed[i] for i in fft], measure, progress, kwargs)
            out[fft] = v
            notes += nt
        return out, tuple(notes)

    def grid(self, rows=None, columns=None, measure: str = "svcca", *, row_title: str | None = None,
             column_title: str | None = None, progress: bool = False, **kwargs) -> SimilarityMatrix:
        """Every (row layer, column layer) pair as a :class:`fastcca.SimilarityMatrix`.

        Parameters
        ----------
        rows, columns : sequence, optional
            Default: the first model's layers against the second model's (or against themselves
            with one model).
        measure, **kwargs
            As in :func:`compare_layers`.
        row_title, column_title : str, optional
            Axis titles (default: from the model labels).
        progress : bool, default False

        Returns
        -------
        SimilarityMatrix
        """
        rows = [k for k in self.layers if k[0] == self.models[0]] if rows is None else [self.key(r) for r in rows]
        if columns is None:
            columns = [k for k in self.layers if k[0] == self.models[-1]]
        else:
            columns = [self.key(c) for c in columns]
        vals, notes = self.pairs([(a, b) for a in rows for b in columns], measure, progress=progress, **kwargs)
        two = len(self.models) > 1

        def title(keys):
            labels = {k[0] for k in keys}
            return f"layer ({labels.pop()})" if two and len(labels) == 1 else "layer"
        return SimilarityMatrix(
            measure=measure, rows=tuple(_label(k) for k in rows), columns=tuple(_label(k) for k in columns),
            values=vals.reshape(len(rows), len(columns)), row_title=row_title or title(rows),
            column_title=column_title or title(columns), n=self._n_of(rows[0]) if rows else 0,
            params=_grid_params(measure, kwargs, any(self._is_fft(k) for k in rows + columns)), notes=notes)


def _fft_values(bank, pairs, measure, progress, kwargs):
    """conv_cca / conv_svcca similarity of each fft pair from the joint per-frequency moments, by
    the conv measures' ``prepare`` / ``pair``: each layer's per-frequency stack is prepared once
    for all its pairs; symmetric measures, so each unordered pair is computed once."""
    from .conv.measures import check_conv_moments, pair_fft, prepare_fft, prepare_svcca_fft
    a = check_measure_arguments(measure, kwargs)
    keep, keep_rule, eps, rcond, rank_tol = (a[k] for k in ("keep", "keep_rule", "eps", "rcond", "rank_tol"))
    be = bank._be
    preps: dict = {}

    def prep(s, m):
        # keyed by the layer's block stack (shared by all its pairs of one overlap size); the
        # stack is kept alive with its entry, so its id is not reused
        if id(s) not in preps:
            f32 = m.float32_products
            p = (prepare_svcca_fft(be, s, m.grid.multiplicity, keep=keep, keep_rule=keep_rule, eps=eps,
                                   rank_tol=rank_tol, float32=f32) if measure == "svcca" else
                 prepare_fft(be, s, eps=eps, rcond=rcond, rank_tol=rank_tol, float32=f32))
            preps[id(s)] = (s, p)
        return preps[id(s)][1]

    out = np.empty(len(pairs))
    done, notes = {}, []
    for i, (a, b) in enumerate(tqdm(pairs, disable=not progress, desc=f"{measure} fft pairs", unit="pair")):
        if (b, a) in done or (a, b) in done:
            out[i] = done.get((a, b), done.get((b, a)))
            continue
        m = bank.moments(a, b, copy=False)
        check_conv_moments(m, f"{measure} grid (conv='fft')")     # n >= 2, finite state
        r = pair_fft(m, prep(m.sxx, m), prep(m.syy, m))
        done[(a, b)] = out[i] = r.similarity
        notes += [f"{a} x {b} (fft): {t}" for t in r.notes if not t.startswith("SV step")]
    return out, notes


def _label(key) -> str:
    return key[1] if key[1] else "output"


def _group_str(g) -> str:
    return "one per input" if g == ("points",) else "one per input and position of a " + "x".join(map(str, g[1:])) + " map"


def _grid_params(measure, kwargs, fft: bool = False):
    from .grid import grid_params
    p = grid_params(measure, kwargs)
    if fft:
        p["conv"] = "fft"
    return p


def _pick_backend(backend: str, out):
    """The kernels module for the moments, given the first hooked output."""
    if backend == "cpu" or not out.is_cuda:
        return get_backend("cpu")
    try:
        return get_backend("cuda")
    except BackendUnavailableError:
        if backend == "cuda":
            raise
        return get_backend("cpu")


def _fft_bank(infos: dict, models: tuple, fft_pairs, precision: str = "float64", backend: str = "cpu"):
    """The :class:`JointConvMoments` for the pairs that involve a conv='fft' map (or None).
    ``fft_pairs``: None (the default grid's pairs; pairs with a conv map in another mode are left
    out, and raise when asked for), "all" (every pair of recorded layers), or explicit pairs
    (a pair that cannot be computed in fft mode raises here, after the first batch)."""
    from .conv.joint import JointConvMoments
    keys = list(infos)
    if fft_pairs is None:
        rows = [k for k in keys if k[0] == models[0]]
        pairs = [(a, b) for a in rows for b in keys if b[0] == models[-1]]
    elif isinstance(fft_pairs, str):
        if fft_pairs != "all":
            raise ValueError(f"fft_pairs: expected None, 'all' or a list of (a, b) layer pairs, got {fft_pairs!r}")
        pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i:]]
    else:
        pairs = []
        for p in fft_pairs:
            try:
                a, b = p
            except (TypeError, ValueError):
                raise ValueError(f"fft_pairs: expected (a, b) layer pairs, got {p!r}") from None
            pairs.append((_key(infos, a), _key(infos, b)))
    keep = []
    for a, b in pairs:
        if not (_is_fft(infos, a) or _is_fft(infos, b)):
            continue
        if len(infos[a].shape) > 1 and len(infos[b].shape) > 1 and not (_is_fft(infos, a) and _is_fft(infos, b)):
            if fft_pairs is None or fft_pairs == "all":
                continue
            _check_fft_modes(infos, a, b)
        keep.append((a, b))
    return JointConvMoments(keep, precision=precision, backend=backend) if keep else None


def record(model, layers, data, *, model_b=None, layers_b=None, labels=("A", "B"), conv="flatten",
           input_index=0, eval_mode: bool = True, backend: str = "auto", progress: bool = True,
           max_batches: int | None = None, fft_pairs=None, precision: str = "float64") -> Recording:
    """Run ``data`` once through ``model`` (and ``model_b``) and stream the outputs of the named
    modules into joint moments.

    Parameters
    ----------
    model, model_b : torch.nn.Module
        The networks; with ``model_b`` both see every batch.  ``model_b`` must be another object
        (to compare a network's layers with each other, pass it once).
    layers, layers_b : list of str or module types
        Module names as in ``model.named_modules()`` (``""`` is the whole model's output), or
        module classes (every module of that class).  ``layers_b`` defaults to ``layers``.
    data : DataLoader or iterable of batches; see the module docstring (``input_index``).
    labels : the two models' labels in the layer keys ``(label, name)``.
    conv : "flatten" | "fold" | "mean" | "fft", or a dict name -> mode (module docstring).
    eval_mode : run the models in eval mode (their train/eval flags are restored afterwards).
    backend : "auto" | "cpu" | "cuda", where the moments are accumulated.
    progress : a tqdm bar over batches.
    max_batches : stop after this many batches.
    fft_pairs : None, "all" or a list of (a, b) layer pairs
        Which pairs involving ``conv="fft"`` conv layers get per-frequency moments (each pair
        costs one batched block product per batch and ``16 F c_a c_b`` bytes).  None (default):
        those of the default grid (``model``'s layers x ``model_b``'s, or x ``model``'s own);
        "all": every pair of recorded layers; a list: exactly those (layer names or
        ``(label, name)`` keys).  Asking a :class:`Recording` for an fft pair that was not
        accumulated is a ``KeyError``.
    precision : "float64" (default) | "float32"
        Arithmetic of each batch's products (accumulation is float64 either way):
        ``JointMoments(precision=...)`` and, for fft pairs, ``JointConvMoments(precision=...)``.
        float32 roughly doubles the product throughput for float32 models; measured errors:
        docs/torch.md, "Precision".

    Returns
    -------
    Recording
        Use ``.grid(...)``, ``.pairs(...)`` or ``.moments(a, b)``.

    Raises
    ------
    ImportError
        torch is not installed (the message names ``pip install 'fastcca[torch]'``).
    ValueError
        An unknown layer name (the message lists close names and the model's modules), a conv
        mode not in :data:`CONV_MODES`, a per-datapoint output shape that changes between
        batches, a loader that yields nothing, ``model_b is model``, or NaN/Inf in a hooked
        output.
    RuntimeError
        A hooked layer that does not run in the forward pass, or runs twice in one.
    TypeError
        A hooked module returns a tuple (e.g. ``nn.LSTM``) instead of one tensor.

    Notes
    -----
    One pass under ``torch.no_grad()``: forward hooks stream every hooked output into one
    :class:`fastcca.JointMoments` (one joint scatter over all hooked layers, a pair is a slice
    of it) and, for ``conv="fft"`` conv layers, a :class:`fastcca.conv.joint.JointConvMoments`.
    Activations are never collected.  Every module's train/eval flag is restored and every hook
    removed afterwards, also when the forward raises.  Guide: docs/torch.md.

    Examples
    --------
    >>> import torch, fastcca
    >>> import fastcca.torch as ft
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    >>> data = [torch.randn(100, 8) for _ in range(5)]
    >>> rec = ft.record(net, ["1", "2"], data, progress=False)
    >>> m = rec.moments("1", "2")                    # a fastcca.Moments of the pair
    >>> m.n, m.p, m.q
    (500, 16, 4)
    >>> rec.grid(measure="cca").values.shape
    (2, 2)
    """
    _require_torch()
    get_backend(backend)  # a bad name, or "cuda" without CuPy/GPU, fails before any work
    precision = check_choice(precision, "precision", PRECISIONS)
    specs = [(labels[0], model, _resolve_layers(model, layers, "layers"))]
    if model_b is not None:
        if model_b is model:
            raise ValueError("model_b: the same object as model; to compare a model's layers with each "
                             "other pass it once (record(model, layers, data))")
        specs.append((labels[1], model_b, _resolve_layers(model_b, layers if layers_b is None else layers_b,
                                                          "layers_b")))
        if labels[0] == labels[1]:
            raise ValueError(f"labels: the two models need different labels, got {labels!r}")
    modes = {(lab, n): _conv_mode(conv, n) for lab, _, names in specs for n in names}
    keys = list(modes)

    captured: dict = {}
    handles = []
    flags = [(m, m.training) for _, mod, _ in specs for m in mod.modules()]

    def make_hook(key):
        def hook(module, args, out):
            if not torch.is_tensor(out):
                kind = f"a {type(out).__name__}" + (f" of {len(out)}" if isinstance(out, (tuple, list)) else "")
                raise TypeError(
                    f"layer {key[1]!r} ({type(module).__name__}) returned {kind}, not a tensor; hook a "
                    "submodule whose output is one tensor, or wrap the module so that it returns the "
                    "tensor to compare")
            if key in captured:
                raise RuntimeError(f"layer {key[1]!r} ran twice in one forward pass (a shared module?); "
                                   "hook a module that runs once per input")
            captured[key] = out.detach()
        return hook

    infos: dict = {}
    groups: dict = {}
    be = None
    bank = None
    n_batches = 0
    try:
        for label, mod, names in specs:
            if eval_mode:
                mod.eval()
            named = dict(mod.named_modules())
            for nm in names:
                handles.append(named[nm].register_forward_hook(make_hook((label, nm))))
        total = len(data) if hasattr(data, "__len__") else None
        if max_batches is not None and total is not None:
            total = min(total, max_batches)
        with torch.no_grad():
            for batch in tqdm(data, total=total, disable=not progress, desc="batches", unit="batch"):
                if max_batches is not None and n_batches >= max_batches:
                    break
                x = _batch_input(batch, input_index)
                captured.clear()
                for _, mod, _ in specs:
                    mod(_to_device(x, _device_of(mod)))
                per_group: dict = {}
                for key in keys:
                    if key not in captured:
                        raise RuntimeError(f"layer {key[1]!r} of model {key[0]!r} produced no output in "
                                           f"batch {n_batches} (it is not used in the forward pass)")
                    out = captured[key]
                    if modes[key] == "fft" and out.ndim > 2:
                        if out.ndim > 4:
                            raise ValueError(
                                f"layer {key[1]!r} of model {key[0]!r}: conv='fft' takes (b, c, h, w) or (b, c, L) "
                                f"outputs, got {tuple(out.shape)}; use conv='mean', 'fold' or 'flatten' here")
                        rows, group, width = None, _FFT_GROUP, int(out.shape[1])
                    else:
                        rows, group = _as_rows(out, modes[key])
                        width = int(rows.shape[1])
                    info = infos.get(key)
                    if info is None:
                        infos[key] = LayerInfo(key[0], key[1], tuple(out.shape[1:]), modes[key], width, group)
                    elif tuple(out.shape[1:]) != info.shape:
                        raise ValueError(
                            f"layer {key[1]!r} of model {key[0]!r}: output shape per datapoint changed from "
                            f"{info.shape} (first batch) to {tuple(out.shape[1:])} in batch {n_batches}; "
                            "the features must be the same in every batch (e.g. fixed image size)")
                    if rows is None:
                        continue
                    if be is None:
                        be = _pick_backend(backend, rows)
                    if be.NAME == "cpu":
                        rows = rows.cpu()
                    per_group.setdefault(group, {})[key] = rows
                if n_batches == 0:
                    bank = _fft_bank(infos, tuple(lab for lab, _, _ in specs), fft_pairs, precision)
                    if bank is not None:
                        # conv='fft' state on the GPU for CUDA models (backend auto/cuda), as the rest
                        first = captured[bank.layers[0]]
                        bank = _fft_bank(infos, tuple(lab for lab, _, _ in specs), fft_pairs, precision,
                                         _pick_backend(backend, first).NAME)
                if bank is not None:
                    on_device = bank.backend != "cpu"
                    bank.update({k: _fft_map(captured[k], on_device) for k in bank.layers})
                captured.clear()
                for group, mats in per_group.items():
                    if group not in groups:
                        groups[group] = JointMoments(be.NAME, precision=precision)
                    groups[group].update(mats)
                n_batches += 1
    finally:
        for h in handles:
            h.remove()
        for m, training in flags:
            m.training = training
        captured.clear()
    if n_batches == 0:
        raise ValueError("data: the loader yielded no batches; nothing to compare")
    return Recording(infos, groups, n_batches, tuple(lab for lab, _, _ in specs), fft=bank)


def compare_layers(model, data, layers, *, model_b=None, layers_b=None, measure: str = "svcca",
                   conv="flatten", input_index=0, eval_mode: bool = True, backend: str = "auto",
                   progress: bool = True, max_batches: int | None = None, precision: str = "float64",
                   **measure_kwargs) -> SimilarityMatrix:
    """Similarity of every layer of ``model`` with every layer of ``model_b`` (default: of ``model`` itself), from one pass over ``data``.

    Parameters
    ----------
    model, data, layers, model_b, layers_b, conv, input_index, eval_mode, backend, progress, max_batches, precision
        As in :func:`record`.
    measure : str
        A name of the measure registry (:data:`fastcca.REGISTRY`; as in
        :func:`fastcca.similarity_grid`).  "pwcca" is the paper variant, weighted by the row
        layer's neurons unless ``side="y"``.  With ``conv="fft"`` (for some or all layers) only
        "svcca" and "cca"/"mean_cca".
    **measure_kwargs
        The measure's settings: ``keep``, ``keep_rule``, ``eps``, ``rcond``, ``rank_tol``,
        ``side`` for the CCA family, the registry entry's ``params`` for the others (``alpha``,
        ``ridge``, ...); checked (names and values) before the pass over the data.

    Returns
    -------
    SimilarityMatrix
        Rows: ``layers`` (of ``model``), columns: ``layers_b`` (of ``model_b``, or ``layers``).

    Raises
    ------
    ImportError
        torch is not installed.
    ValueError
        An unknown measure or layer, a measure that ``conv="fft"`` does not define (pwcca,
        linear_cka; checked before the pass), or any error :func:`record` raises.
    TypeError
        A hooked module that returns a tuple, an unexpected measure argument, or a non-numeric
        ``eps``/``rcond``/``rank_tol`` (before the pass).

    Notes
    -----
    The grid is :func:`fastcca.similarity_grid` of the recorded joint moments: each entry equals
    the one-pair function on the same activations.  Mixed conv modes: a pair of an fft conv layer
    and a dense layer compares the DC frequency only (the conv layer's spatial mean).

    Examples
    --------
    >>> import torch
    >>> import fastcca.torch as ft
    >>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh())
    >>> data = [torch.randn(200, 8) for _ in range(5)]
    >>> g = ft.compare_layers(net, data, ["1", "3"], measure="svcca", progress=False)
    >>> g.rows, g.values.shape
    (('1', '3'), (2, 2))
    """
    check_measure_arguments(measure, measure_kwargs)   # before the pass over the data
    if _uses_fft(conv):
        _check_fft_measure(measure, "requested for some layers")
    rec = record(model, layers, data, model_b=model_b, layers_b=layers_b, conv=conv,
                 input_index=input_index, eval_mode=eval_mode, backend=backend, progress=progress,
                 max_batches=max_batches, fft_pairs=None, precision=precision)
    return rec.grid(measure=measure, progress=progress, **measure_kwargs)


# ---------------------------------------------------------------------------- checkpoints
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

