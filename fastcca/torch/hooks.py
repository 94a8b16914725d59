"""One pass over the data with forward hooks: :func:`record` streams every hooked output into
joint moments (never holding the activations); :func:`compare_layers` is record + grid."""
from __future__ import annotations

from collections.abc import Mapping

from tqdm.auto import tqdm

from .._validation import PRECISIONS, check_choice
from ..backend import BackendUnavailableError, get_backend
from ..grid import JointMoments, SimilarityMatrix, check_measure_arguments
from ._layers import torch  # the guarded import (None without PyTorch)
from ._layers import (_FFT_GROUP, LayerInfo, _as_rows, _check_fft_measure, _check_fft_modes, _conv_mode, _fft_map,
                      _is_fft, _key, _require_torch, _resolve_layers, _uses_fft)
from .recording import Recording


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
    from ..conv.joint import JointConvMoments
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
