"""Docstring entries that several public functions share, written once.

A line ``%(name)s`` alone in a docstring (at any indentation) stands for the entry ``name`` of
:data:`SHARED`, indented as that line.  :func:`fill` expands the placeholders of a function when
its module is imported, so ``help()``, IDEs and doctests read the full text; the docs' griffe
extension (``docs/_hooks/griffe_sphinx_roles.py``) expands them in the static docstrings that
mkdocstrings reads, with the same :func:`expand`.
"""
from __future__ import annotations

import re

#: entry name -> NumPy-style section entries (Parameters or Raises: the first line of each
#: unindented, its description indented 4)
SHARED = {
    # the dense measures (cca, mean_cca, svcca, pwcca, linear_cka)
    "xy": """\
x, y : array-like or Moments
    Activations x (n, p) and y (n, q), samples first (rows are the same n datapoints),
    float64 / float32 / float16 / integer / bfloat16 NumPy arrays, CPU or CUDA torch
    tensors, CuPy arrays; or a :class:`fastcca.Moments` as ``x`` with ``y`` omitted.""",
    "backend": """\
backend : {"auto", "cpu", "cuda"}
    Where the moments pass runs; ``"auto"`` follows the input (see :func:`fastcca.get_backend`).""",
    "precision": """\
precision : {"float64", "float32"}
    Arithmetic of the moments pass over arrays (see :class:`fastcca.Moments`); ignored for a
    Moments input.  A float32 result of a measure that whitens carries its estimated error
    in ``notes`` (linear CKA stays at rounding level; docs/definitions.md, *Precision*).""",
    "raises_nonfinite": """\
FloatingPointError
    The moments hold inf/NaN (never from finite input: each side is accumulated in exact
    power-of-two units, docs/numerics.md).
fastcca.BackendUnavailableError
    ``backend="cuda"`` without CuPy or a GPU.""",
    # the accumulators' files (Moments, JointMoments, JointConvMoments)
    "load_args": """\
path : str or path-like
backend : {"cpu", "cuda"}, default "cpu"
    Where the loaded state lives.""",
    "raises_save_keys": """\
ValueError
    The accumulator is empty.
TypeError
    A layer key other than a str, int, float, bool, None or a tuple of them (keys are
    written as JSON, never pickled; pickle such an accumulator instead).""",
    # the conv-layer measures (conv_moments, conv_cca, conv_svcca, conv_pwcca)
    "conv_xy": """\
x, y : array-like or moments
    Conv activations (n, c1, h1, w1) and (n, c2, h2, w2) (PyTorch NCHW; the spatial sizes
    may differ), or (n, h, w, c) with ``layout="nhwc"``; NumPy arrays (memory-mapped
    ones too) or CPU torch tensors.  Or, with ``y`` omitted, a :class:`ConvMoments`
    (``mode="fft"``) or a :class:`fastcca.Moments` of the reshaped activations (other
    modes, from :func:`conv_moments`).""",
    "conv_mode": """\
mode : {"fft", "fold", "flatten", "mean"}
    ``"fft"`` (default): one complex CCA per 2-D DFT frequency (the SVCCA paper's method);
    ``"fold"``: spatial positions as datapoints, (n h w, c); ``"flatten"``: every (channel,
    position) a neuron, (n, c h w); ``"mean"``: the spatial mean of each channel, (n, c).""",
    "conv_layout": """\
layout : {"nchw", "nhwc"}
    Axis order of the arrays.""",
    "conv_batch_size": """\
batch_size : int, optional
    Images per update when accumulating from arrays (bounds memory); default: automatic.""",
    "conv_backend": """\
backend : {"auto", "cpu", "cuda"}
    Where the moments are accumulated and the blocks decomposed (``"auto"`` follows the
    input: CuPy arrays and CUDA torch tensors -> ``"cuda"``); results come back as NumPy.""",
    "conv_raises": """\
ValueError
    Mismatched image counts, a wrong rank, NaN/Inf, an unknown mode or layout, layers
    that ``mode="fold"`` cannot compare (different spatial sizes), an empty moments object
    or fewer than 2 images (also after merges).
TypeError
    A moments object together with ``y``, or the wrong kind of moments for ``mode``.
FloatingPointError
    The moments hold inf/NaN (never from finite input; docs/numerics.md).
fastcca.BackendUnavailableError
    ``backend="cuda"`` without CuPy or a usable GPU.""",
}

_PLACEHOLDER = re.compile(r"^([ \t]*)%\((\w+)\)s[ \t]*$", re.M)


def expand(doc: str | None) -> str | None:
    """``doc`` with every placeholder line ``%(name)s`` replaced by ``SHARED[name]``, each line of
    the entry indented as the placeholder was.  ``KeyError`` names an unknown entry."""
    if not doc:
        return doc

    def entry(m: re.Match) -> str:
        indent, name = m.group(1), m.group(2)
        if name not in SHARED:
            raise KeyError(f"docstring placeholder %({name})s: no such entry; they are {sorted(SHARED)}")
        return "\n".join(indent + line if line else line for line in SHARED[name].split("\n"))
    return _PLACEHOLDER.sub(entry, doc)


def fill(obj):
    """Decorator: expand the placeholders of ``obj.__doc__`` (see the module docstring)."""
    obj.__doc__ = expand(obj.__doc__)
    return obj
