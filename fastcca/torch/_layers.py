"""Layer specs of the PyTorch integration: the hooked layers (:class:`LayerInfo`), their names
and keys ``(model label, module name)``, the conv modes and the reshaping of a hooked output into
rows (or, for ``conv="fft"``, into a (b, c, h, w) map); the torch import guard."""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from ..conv._inputs import MODES, conv_rows
from ..grid import MEASURES

try:  # optional dependency: importing fastcca.torch never fails, using it without torch does
    import torch
except ImportError as _exc:  # pragma: no cover - exercised by a test that hides torch
    torch = None
    _TORCH_IMPORT_ERROR = _exc

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


def _label(key) -> str:
    return key[1] if key[1] else "output"


def _group_str(g) -> str:
    return "one per input" if g == ("points",) else "one per input and position of a " + "x".join(map(str, g[1:])) + " map"


def _grid_params(measure, kwargs, fft: bool = False):
    from ..grid import grid_params
    p = grid_params(measure, kwargs)
    if fft:
        p["conv"] = "fft"
    return p
