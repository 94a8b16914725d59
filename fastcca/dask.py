"""Moments of Dask arrays: one partial accumulator per chunk, merged by a tree reduction.

Activations too large for one machine (millions of datapoints, many checkpoints, arrays in
HDF5/Zarr or spread over several GPUs) go through the same :class:`fastcca.Moments` as
in-memory ones: the moments are mergeable, so the distributed case is a reduction.

    >>> import dask.array as da, fastcca
    >>> from fastcca.dask import moments
    >>> x = da.from_array(big_x, chunks=(50_000, -1))   # (n, p), chunked along datapoints
    >>> y = da.from_array(big_y, chunks=(50_000, -1))   # (n, q)
    >>> m = moments(x, y)                               # a fastcca.Moments, in this process
    >>> fastcca.svcca(m).similarity

How the graph is built (``moments_delayed`` returns it without computing):

1. **Neuron axes.**  Chunking along any axis other than the first (the neuron axis of a
   (n, p) array) is merged first: each array is rechunked to ONE chunk per row block
   (``x.rechunk({1: -1})``), since one chunk's moments need all of its neurons.  A row block
   then holds ``rows * p`` values; choose the row chunk size with that in mind.
2. **Datapoint axis.**  x and y must hold the same number of datapoints, split the same way.
   When their row chunks differ, ``rechunk=True`` (the default) rechunks **y to x's row
   chunks** (x is never moved; this costs rechunk tasks and, on a cluster, transfers of y);
   ``rechunk=False`` refuses with a ``ValueError`` that shows both chunkings.
3. **Partials.**  One task per row block ``i`` builds a fresh accumulator (``Moments(backend)``)
   and calls its ``update`` on the chunk pair: the backend's own kernels, float64 state.  NaN
   or Inf (or any other bad input) in a chunk raises :class:`ChunkError`, which names the
   chunk index and its row range.
4. **Tree reduction.**  Partials are merged ``split_every`` at a time, level after level, with
   ``Moments.merge`` (Chan, Golub & LeVeque's pairwise rule), into a fresh accumulator at each
   node (inputs are never mutated, so a retried task sees the same inputs).  The rule is exact,
   so any tree shape gives the one-pass result up to rounding (tested to 1e-12 relative).
   Each partial carries its power-of-two units (``fastcca.kernels._scale``); merges align them exactly,
   so chunks of very different magnitudes reduce correctly.

Chunks may be NumPy or CuPy arrays.  With ``backend="auto"`` each partial follows its chunk
(CuPy -> the ``cuda`` backend), so a CuPy-backed dask array is reduced on the GPU(s) and the
partial moments travel as CuPy arrays; pass ``backend="cpu"`` / ``"cuda"`` to force one.
(The CuPy route is not covered by this module's tests, which run without a GPU.)

Schedulers: anything Dask computes with.  ``moments`` calls ``.compute(**compute_kwargs)`` on
the graph, so an active ``distributed.Client`` is used when there is one; otherwise pass
e.g. ``scheduler="threads"``.  Partials travel between workers pickled (``Moments`` pickles
to its five arrays plus the backend's name, about ``8 (p^2 + q^2 + pq)`` bytes).

Memory per worker: a partial task holds its two chunks, their float64 centred copies and the
(p, q) blocks, i.e. about ``rows * (p + q) * (itemsize + 8) + 8 (p + q)^2`` bytes; a merge
task holds ``split_every + 1`` accumulators.

Conv layers: :func:`conv_moments` (and :func:`conv_moments_delayed`) build a
:class:`fastcca.ConvMoments` (the SVCCA paper's per-frequency moments, ``mode="fft"``) from 4-D
dask arrays (n, c, h, w) (or (n, h, w, c) with ``layout="nhwc"``) by the same reduction: one
``ConvMoments`` per row block, merged with ``ConvMoments.merge``; channel and spatial axes are
merged to one chunk per row block first.  Then ``fastcca.conv_cca(m)`` or ``conv_svcca(m)``.

Importing :mod:`fastcca` never imports Dask; this module needs ``pip install 'fastcca[dask]'``.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable

try:
    import dask
    import dask.array as da
    from dask import delayed
    from dask.base import tokenize
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError(
        "fastcca.dask needs Dask (with dask.array); install it with "
        f"`pip install 'fastcca[dask]'` ({exc})") from exc

import numpy as np

from .backend import get_backend
from .moments import Moments

__all__ = ["moments", "moments_delayed", "conv_moments", "conv_moments_delayed", "ChunkError"]

#: default fan-in of the tree reduction (Dask's own reductions default to 4-32)
DEFAULT_SPLIT_EVERY = 8


class ChunkError(ValueError):
    """A chunk's data was rejected (NaN/Inf, bad shape...); a ``ValueError``.

    Parameters
    ----------
    message : str
        What was wrong, naming the chunk and its rows.
    chunk : int
        The row-block index along the datapoint axis.
    rows : tuple of int
        ``(start, stop)``: the datapoints the chunk covers.

    Notes
    -----
    Raised in your process also when the chunk was processed on a cluster worker.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from fastcca.dask import ChunkError, moments
    >>> a = np.ones((300, 2)); a[250, 0] = np.nan
    >>> try:
    ...     moments(da.from_array(a, chunks=(100, -1)), scheduler="sync")
    ... except ChunkError as e:
    ...     print(e.chunk, e.rows)
    2 (200, 300)
    """

    def __init__(self, message: str, chunk: int, rows: tuple[int, int]):
        super().__init__(message, chunk, rows)  # all in args: pickles across workers

    @property
    def chunk(self) -> int:
        """The row-block index along the datapoint axis."""
        return self.args[1]

    @property
    def rows(self) -> tuple[int, int]:
        """``(start, stop)``: the datapoints the chunk covers."""
        return self.args[2]

    def __str__(self) -> str:
        return self.args[0]


# ---------------------------------------------------------------------------- tasks
def _chunk_moments(xb, yb, index: int, lo: int, hi: int, factory: Callable[[], Any]):
    """Task: the accumulator of one chunk pair (rows ``lo:hi``, row block ``index``)."""
    acc = factory()
    try:
        # concurrent tasks are safe: the CPU kernels serialise their Numba launches
        acc.update(xb, xb if yb is None else yb)
    except (ValueError, TypeError, FloatingPointError) as exc:
        raise ChunkError(f"chunk {index} (rows {lo}:{hi}) along the datapoint axis: {exc}",
                         index, (lo, hi)) from exc
    return acc


def _merge_all(factory: Callable[[], Any], *parts):
    """Task: merge ``parts`` (Chan's rule) into a fresh accumulator; the inputs stay intact."""
    out = factory()
    for part in parts:
        out.merge(part)
    return out


# ---------------------------------------------------------------------------- checks
def _check_array(a, name: str):
    if not isinstance(a, da.Array):
        raise TypeError(
            f"{name}: expected a dask.array.Array chunked along the datapoint axis, got "
            f"{type(a).__name__} (wrap in-memory data with dask.array.from_array(a, "
            "chunks=(rows, -1)), or use fastcca.Moments.from_arrays)")
    if a.ndim < 2:
        raise ValueError(f"{name}: expected a 2-D array of shape (n_datapoints, n_neurons) "
                         f"(samples first), got shape {a.shape}")
    # what every chunk's update would refuse, refused on the client before any task runs
    if isinstance(getattr(a, "_meta", None), np.ma.MaskedArray):
        raise TypeError(f"{name}: a dask array of masked chunks (numpy.ma); the masks would be ignored. "
                        "Drop or fill the masked rows first")
    if a.dtype.kind == "c" or (a.dtype.kind not in "fiub" and a.dtype.name != "bfloat16"):
        raise TypeError(f"{name}: expected real numeric activations, got a dask array of dtype {a.dtype}")
    if any(math.isnan(c) for c in a.chunks[0]):
        raise ValueError(f"{name}: its chunk sizes along the datapoint axis are unknown (NaN); "
                         f"call {name}.compute_chunk_sizes() first")
    if a.shape[0] == 0 or any(s == 0 for s in a.shape[1:]):
        raise ValueError(f"{name}: empty input, shape {a.shape}; need at least one datapoint "
                         "and one neuron")


def _one_chunk_per_row_block(a):
    """Merge chunking along every axis but the first (one chunk holds all neurons)."""
    if all(len(c) == 1 for c in a.chunks[1:]):
        return a
    return a.rechunk({k: -1 for k in range(1, a.ndim)})


def _align_rows(x, y, rechunk: bool):
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must hold the same datapoints (samples first): x has {x.shape[0]} rows, "
            f"shape {x.shape}; y has {y.shape[0]} rows, shape {y.shape}")
    if x.chunks[0] == y.chunks[0]:
        return y
    if not rechunk:
        raise ValueError(
            "x and y are chunked differently along the datapoint axis: x row chunks "
            f"{_short(x.chunks[0])}, y row chunks {_short(y.chunks[0])}. Chunk them alike, "
            "or pass rechunk=True to rechunk y to x's row chunks")
    return y.rechunk({0: x.chunks[0]})


def _short(chunks, k: int = 6) -> str:
    if len(chunks) <= k:
        return str(tuple(chunks))
    return f"({', '.join(map(str, chunks[:k]))}, ... {len(chunks)} chunks)"


# ---------------------------------------------------------------------------- API
def moments_delayed(x, y=None, *, split_every: int = DEFAULT_SPLIT_EVERY, rechunk: bool = True,
                    backend: str = "auto", accumulator: Callable[[], Any] | None = None):
    """The graph of :func:`moments`, not computed.

    Parameters
    ----------
    x, y, split_every, rechunk, backend, accumulator
        As in :func:`moments`.

    Returns
    -------
    dask.delayed.Delayed
        Its result is the accumulator (a :class:`fastcca.Moments` by default).

    Raises
    ------
    ValueError, TypeError
        As :func:`moments`, before any computation.

    Notes
    -----
    Useful to compute several reductions in one ``dask.compute`` call (e.g. every layer pair
    of a network over the same chunks).

    Examples
    --------
    >>> import dask, numpy as np, dask.array as da
    >>> from fastcca.dask import moments_delayed
    >>> a = da.from_array(np.random.default_rng(0).standard_normal((600, 4)), chunks=(200, -1))
    >>> m1, m2 = dask.compute(moments_delayed(a, a[:, :2]), moments_delayed(a, a[:, 2:]), scheduler="sync")
    >>> m1.q, m2.q
    (2, 2)
    """
    if isinstance(split_every, bool) or not isinstance(split_every, int) or split_every < 2:
        raise ValueError(f"split_every: expected an int >= 2, got {split_every!r}")
    get_backend(backend)  # validate the name early, on the client
    if accumulator is None:
        factory = functools.partial(Moments, backend)
    elif callable(accumulator):
        factory = accumulator
    else:
        raise TypeError(f"accumulator: expected a callable returning a fresh accumulator, "
                        f"got {type(accumulator).__name__}")

    same = y is None or y is x
    _check_array(x, "x")
    if not same:
        _check_array(y, "y")
    x = _one_chunk_per_row_block(x)
    if not same:
        y = _align_rows(x, _one_chunk_per_row_block(y), rechunk)
        x, y = dask.optimize(x, y)  # jointly: a shared upstream graph stays shared
        yd = y.to_delayed(optimize_graph=False).ravel()
    else:
        (x,) = dask.optimize(x)
    xd = x.to_delayed(optimize_graph=False).ravel()

    name = "fastcca-moments-" + tokenize(x, None if same else y, split_every, backend, factory)
    bounds = [0]
    for c in x.chunks[0]:
        bounds.append(bounds[-1] + int(c))
    parts = [
        delayed(_chunk_moments, pure=True)(
            xd[i], None if same else yd[i], i, bounds[i], bounds[i + 1], factory,
            dask_key_name=(name + "-chunk", i))
        for i in range(len(xd))
    ]
    level = 0
    while len(parts) > 1:
        parts = [
            delayed(_merge_all, pure=True)(factory, *parts[j:j + split_every],
                                           dask_key_name=(f"{name}-merge{level}", j // split_every))
            for j in range(0, len(parts), split_every)
        ]
        level += 1
    return parts[0]


def moments(x, y=None, *, split_every: int = DEFAULT_SPLIT_EVERY, rechunk: bool = True,
            backend: str = "auto", accumulator: Callable[[], Any] | None = None,
            **compute_kwargs):
    """:class:`fastcca.Moments` of dask arrays x (n, p) and y (n, q), samples first, computed.

    Parameters
    ----------
    x, y : dask.array.Array
        Chunked along the datapoint axis (axis 0); ``y=None`` (or ``y is x``) computes the
        moments of x with itself.  Chunks may be NumPy or CuPy arrays of any real dtype
        (float32 is accumulated in float64).  Chunking along other axes is merged to one chunk
        per row block first.
    split_every : int >= 2
        Fan-in of the merge tree (8 by default).  Any value gives the same moments up to
        rounding; larger values mean fewer, bigger merge tasks.
    rechunk : bool
        When x and y have different row chunks: True rechunks y to x's row chunks; False
        raises ``ValueError``.
    backend : {"auto", "cpu", "cuda"}
        Backend of every partial; ``"auto"`` follows each chunk (CuPy -> ``cuda``).
    accumulator : callable, optional
        Factory of a fresh accumulator with ``update(x, y)`` and ``merge(other)`` methods
        (default ``Moments(backend)``); must be picklable for a distributed cluster.
        Arrays of higher rank are passed through with their non-row axes in one chunk.
    **compute_kwargs
        Passed to ``dask.compute`` (e.g. ``scheduler="threads"``); by default Dask's current
        scheduler (an active ``distributed.Client`` if there is one).

    Returns
    -------
    fastcca.Moments
        In this process; every measure takes it: ``fastcca.svcca(m)``, ``fastcca.cca(m)``...

    Raises
    ------
    ChunkError
        A chunk holds NaN/Inf or is otherwise invalid; the message names the chunk and rows.
    ValueError, TypeError
        Not dask arrays, different datapoint counts, unknown chunk sizes, empty input, or
        different row chunks with ``rechunk=False``.
    Notes
    -----
    One partial accumulator per chunk pair (the backend's own ``update``), merged by a tree
    reduction with :meth:`fastcca.Moments.merge`: Chan, Golub & LeVeque's pairwise rule, exact,
    so any chunking and ``split_every`` give the in-memory result to rounding (tested: 1e-12
    relative).  Guide: docs/dask.md.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastcca
    >>> from fastcca.dask import moments
    >>> a = np.random.default_rng(0).standard_normal((1000, 5))
    >>> m = moments(da.from_array(a, chunks=(300, -1)), da.from_array(a[:, :3], chunks=(300, -1)),
    ...             scheduler="sync")
    >>> m.n, bool(np.allclose(m.sxy, fastcca.Moments.from_arrays(a, a[:, :3]).sxy))
    (1000, True)
    """
    graph = moments_delayed(x, y, split_every=split_every, rechunk=rechunk, backend=backend,
                            accumulator=accumulator)
    (result,) = dask.compute(graph, **compute_kwargs)
    return result


# ---------------------------------------------------------------------------- conv layers
def _check_conv(a, name: str):
    if isinstance(a, da.Array) and a.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D conv activation array (n, c, h, w) (or "
                         f"(n, h, w, c) with layout='nhwc'), samples first, got shape {a.shape}")


def conv_moments_delayed(x, y=None, *, layout: str = "nchw", precision: str = "float64",
                         split_every: int = DEFAULT_SPLIT_EVERY, rechunk: bool = True,
                         backend: str = "auto"):
    """The graph of :func:`conv_moments`, not computed.

    Parameters
    ----------
    x, y, layout, precision, split_every, rechunk, backend
        As in :func:`conv_moments`.

    Returns
    -------
    dask.delayed.Delayed
        Its result is a :class:`fastcca.ConvMoments`.

    Raises
    ------
    ValueError, TypeError
        As :func:`conv_moments`, before any computation.

    Notes
    -----
    As :func:`moments_delayed`: several conv layer pairs in one ``dask.compute`` call.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from fastcca.dask import conv_moments_delayed
    >>> a = da.from_array(np.random.default_rng(0).standard_normal((200, 2, 4, 4)), chunks=(50, -1, -1, -1))
    >>> conv_moments_delayed(a, a).compute(scheduler="sync").n
    200
    """
    from .conv.moments import ConvMoments

    ConvMoments(layout=layout, backend=backend, precision=precision)  # validate on the client
    _check_conv(x, "x")
    if y is not None:
        _check_conv(y, "y")
    factory = functools.partial(ConvMoments, layout=layout, backend=backend, precision=precision)
    return moments_delayed(x, y, split_every=split_every, rechunk=rechunk, backend=backend,
                           accumulator=factory)


def conv_moments(x, y=None, *, layout: str = "nchw", precision: str = "float64",
                 split_every: int = DEFAULT_SPLIT_EVERY, rechunk: bool = True,
                 backend: str = "auto", **compute_kwargs):
    """:class:`fastcca.ConvMoments` of two conv layers held as dask arrays, computed.

    Parameters
    ----------
    x, y : dask.array.Array
        (n, c1, h1, w1) and (n, c2, h2, w2) (``layout="nchw"``, PyTorch) or (n, h, w, c)
        (``layout="nhwc"``), chunked along the datapoint axis (axis 0); other axes are merged
        to one chunk per row block first (a row block holds ``rows * c * h * w`` values).
        ``y=None`` (or ``y is x``) compares x with itself.  Spatial sizes may differ.
    layout, precision, backend
        As in :class:`fastcca.ConvMoments` (tested with NumPy chunks on the CPU backend).
    split_every, rechunk, **compute_kwargs
        As in :func:`moments`.

    Returns
    -------
    fastcca.ConvMoments
        Equal to the in-memory ``ConvMoments().update(x, y)`` up to rounding (tested to 1e-12
        relative); pass it to ``fastcca.conv_cca`` / ``conv_svcca`` (``mode="fft"``;
        ``conv_pwcca`` has no fft mode and the other conv modes are not wired here).

    Raises
    ------
    ChunkError
        A chunk holds NaN/Inf (or is otherwise invalid); the message names chunk and rows.
    ValueError, TypeError
        As :func:`moments`, plus arrays that are not 4-D.
    Notes
    -----
    One :class:`fastcca.ConvMoments` per row block, merged with :meth:`ConvMoments.merge`
    (Chan's rule on complex blocks).  Only the fft mode is wired.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastcca
    >>> from fastcca.dask import conv_moments
    >>> a = np.random.default_rng(0).standard_normal((400, 3, 4, 4))
    >>> m = conv_moments(da.from_array(a, chunks=(100, -1, -1, -1)), da.from_array(a, chunks=(100, -1, -1, -1)),
    ...                  scheduler="sync")
    >>> m.n, round(fastcca.conv_cca(m).similarity, 6)
    (400, 1.0)
    """
    graph = conv_moments_delayed(x, y, layout=layout, precision=precision,
                                 split_every=split_every, rechunk=rechunk, backend=backend)
    (result,) = dask.compute(graph, **compute_kwargs)
    return result
