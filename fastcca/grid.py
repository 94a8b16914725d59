"""Many comparisons from one pass: the joint moments of several layers, and similarity grids.

:class:`JointMoments` accumulates the moments of the *concatenation* of several named activation
sets observed on the same datapoints (layers of one or two networks, or of a network at two
checkpoints).  With ``P = sum_l p_l`` features in all, its state is the count ``n``, the mean
(P,) and ONE centred scatter matrix ``S`` (P, P), float64; the blocks of a pair of layers are
slices of it, ``S_aa``, ``S_bb``, ``S_ab``, so every pair's :class:`fastcca.Moments` is available
without another pass.  Memory on the CPU: ``8 P^2`` bytes for the state plus a float64 chunk
buffer of about ``JointMoments.CHUNK_BYTES`` (4 MiB; at least 64 rows) -- the batch is folded in
by row chunks with an in-place ``syrk`` (upper triangle, mirrored when read), so no (P, P)
temporary and no (b, P) copy is made -- i.e. a peak of about ``8 P^2 + max(4 MiB, 512 P)``
bytes whatever the number of datapoints.  (Other backends: ``16 P^2 + 8 b P``.)

Units: every layer is held in its own power-of-two units ``2**exponents[layer]``
(``fastcca.kernels._scale``; 0 for activations of ordinary size), so ``S_ab`` is stored divided by
``2**(exponents[a] + exponents[b])`` and nothing overflows or underflows whatever the magnitude
of a layer; every measure is invariant to rescaling a layer, and ``moments(a, b)`` carries the
units into the :class:`fastcca.Moments` it returns.

:func:`similarity_grid` then compares every (row layer, column layer) pair through the measure
registry (:mod:`fastcca.measures.registry`): each measure is a per-side ``prepare`` and a
``pair(prepared_a, prepared_b, S_ab)``, the same two functions the one-pair functions call, so
each layer is prepared ONCE for all its pairs (for the CCA family its regularised whitening,
``fastcca._canonical.whiten``; for SVCCA its top singular directions and the whitening of the
reduced block ``diag(lambda_k)``; for linear CKA its Frobenius norm) and each entry equals the
one-pair function on ``jm.moments(a, b)`` exactly (the same operations on the same blocks), with
the same notes: each layer's once, each pair's prefixed ``"a x b: "``, degenerate pairs and float32
error estimates summed over the grid.  Symmetric measures compute each unordered pair once.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from . import _io
from ._docstrings import fill as fill_doc
from ._accumulator import Accumulator
from .kernels import _scale
from ._canonical import RANK_TOL
from ._validation import PRECISIONS
from ._validation import (DegenerateCCAWarning, Float32PrecisionWarning, check_choice, check_enough_datapoints,
                          check_fraction_or_count, check_nonnegative, check_state_finite,
                          check_tolerance, forced_ones)
from .backend import capability, gemm_dtype, get_backend
from .measures import registry
from .measures._blocks import Side
from .measures._precision import float32_error_notes, is_float32_note
from .measures.svcca import KEEP_RULES
from .moments import Moments

#: the CCA family and linear CKA: the grid's own keyword arguments (:data:`MEASURE_ARGUMENTS`)
_CCA_FAMILY = ("svcca", "cca", "mean_cca", "pwcca", "linear_cka")
#: every measure a grid offers (the registry's, :data:`fastcca.REGISTRY`)
MEASURES = tuple(name for name, spec in registry.REGISTRY.items() if spec.grid)
#: the ``format`` tag of :meth:`JointMoments.save` files
_FORMAT = "fastcca.JointMoments/1"


# ---------------------------------------------------------------------------- joint moments
class JointMoments(Accumulator):
    """Streaming joint moments of several named activation sets on the same datapoints.

    One float64 scatter ``S`` (P, P) over all ``P = sum_l p_l`` features of the concatenated
    layers; a pair's ``Saa``, ``Sbb``, ``Sab`` are slices of it, so any number of layer pairs
    costs one pass and one symmetric product per batch.  :func:`similarity_grid` computes every
    pair's measure from it; ``fastcca.torch`` fills one from a model's hooks.

    Parameters
    ----------
    backend : {"auto", "cpu", "cuda"}
        Where the state lives; ``"auto"`` follows the first batch.
    precision : {"float64", "float32"}
        ``"float32"`` (CPU): each chunk is copied to a float32 buffer, centred on its float64
        mean, and its product ``X^T X`` is formed in single precision (``sgemm`` by column
        panels) and added into the float64 scatter; the chunk means and Chan's merge stay
        float64.  Measured: the scatter within 7.7e-8 relative and grid values within 2.2e-7
        of float64 on well-conditioned layers (docs/torch.md, *Precision*); every grid value
        estimates its own error as the measures do.

    Attributes
    ----------
    n : int
        Datapoints accumulated.
    slices : dict
        Layer key -> its slice of the joint feature axis.
    float32_products : bool
        Whether float32 products are in the state (own updates with ``precision="float32"``, or
        merged from such an accumulator); every grid value then estimates its float32 error.

    Raises
    ------
    ValueError
        An unknown ``backend`` or ``precision``.

    Notes
    -----
    ``update({"conv1": a1, "fc": a2, ...})`` takes one batch: a mapping from a layer key (any
    hashable) to its activations (b, p_l), samples first, all with the same b.  The keys and
    widths are fixed by the first batch.  ``block(a, b)`` is the (p_a, p_b) slice of the joint
    scatter, ``moments(a, b)`` a :class:`fastcca.Moments` of that pair (copies), usable with
    every measure.  A failing ``update`` (NaN/Inf, wrong shapes, missing layers) raises before
    touching the state.  Memory: ``8 P^2`` bytes, independent of n.  :meth:`save` /
    :meth:`load` write and read the state (.npz, no pickle); a loaded accumulator streams and
    merges on.

    ``mean``, ``scatter`` and ``block`` are in per-layer power-of-two units ``exponents[layer]``
    (see the module docstring; the moments themselves when every exponent is 0); ``lo``/``hi``
    (P,) are the features' minima and maxima in the data's units (``lo == hi``: constant).

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> jm = fastcca.JointMoments()
    >>> for _ in range(3):
    ...     a = rng.standard_normal((200, 5))
    ...     _ = jm.update({"a": a, "b": a[:, :3] + rng.standard_normal((200, 3)), "c": rng.standard_normal((200, 4))})
    >>> jm.n, jm.total_features
    (600, 12)
    >>> np.allclose(fastcca.cca(jm.moments("a", "b")).similarity, fastcca.similarity_grid(jm, ["a"], ["b"], "cca").values[0, 0])
    True
    """

    #: rows per chunk are chosen so that the float64 chunk buffer stays near this many bytes
    CHUNK_BYTES = 4 << 20
    #: ``precision`` choices: the arithmetic of each chunk's product (accumulation is float64)
    PRECISIONS = PRECISIONS

    def __init__(self, backend: str = "auto", precision: str = "float64"):
        get_backend(backend)
        self.precision = check_choice(precision, "precision", self.PRECISIONS)
        #: whether any float32 products are in the state (as :class:`fastcca.Moments`)
        self.float32_products = False
        self._backend_name = backend
        self._be = None if backend == "auto" else get_backend(backend)
        self.n = 0
        self.mean = None
        self._s = None
        self._upper_only = False
        self.slices: dict = {}
        self.exponents: dict = {}
        self.lo = self.hi = None

    # ------------------------------------------------------------------ properties
    @property
    def layers(self) -> list:
        """The layer keys, in the order of the first batch."""
        return list(self.slices)

    @property
    def total_features(self) -> int:
        """``P``: the summed width of all layers."""
        return sum(s.stop - s.start for s in self.slices.values())

    @property
    def scatter(self):
        """The joint centred scatter (P, P), float64, symmetric."""
        if self._s is not None and self._upper_only:
            self._be.symmetrize_upper(self._s)
            self._upper_only = False
        return self._s

    def features(self, key) -> int:
        """The width ``p`` of layer ``key``."""
        s = self._slice(key)
        return s.stop - s.start

    def __repr__(self) -> str:
        return (f"JointMoments(n={self.n}, layers={len(self.slices)}, "
                f"features={self.total_features}, backend={self.backend!r})")

    # ------------------------------------------------------------------ streaming
    def update(self, batch) -> "JointMoments":
        """Add one batch: a mapping ``key -> (b, p_key)`` array (NumPy, CPU torch, ...).

        On the CPU the batch is folded in by row chunks of about ``CHUNK_BYTES`` (each chunk's
        layers copied side by side into one float64 buffer, centred, and added with an in-place
        ``syrk`` + rank-1 update, Chan's rule per chunk), so neither a (b, P) copy nor a (P, P)
        temporary is made; the whole batch is checked for NaN/Inf first.
        """
        if not hasattr(batch, "items"):
            raise TypeError(f"batch: expected a mapping layer -> (b, p) array, got {type(batch).__name__}")
        if not batch:
            raise ValueError("batch: empty mapping; give at least one layer's activations")
        be = self._be or get_backend(self._backend_name, *batch.values())
        mats = {k: be.as_matrix(v, f"batch[{k!r}]") for k, v in batch.items()}
        rows = {k: m.shape[0] for k, m in mats.items()}
        if len(set(rows.values())) != 1:
            raise ValueError(f"batch: every layer must hold the same datapoints (samples first); rows per layer: {rows}")
        if self.slices:
            if list(mats) != list(self.slices):
                raise ValueError(f"batch: layers {list(mats)} differ from the first batch's {list(self.slices)}")
            for k, m in mats.items():
                if m.shape[1] != self.features(k):
                    raise ValueError(f"batch[{k!r}]: {m.shape[1]} features, the first batch had "
                                     f"{self.features(k)}; the accumulator is unchanged")
        xp = be.xp
        if self.precision == "float32" and capability(be, "scatter_update_upper_f32") is None:
            raise ValueError(f"precision='float32': not available on backend {be.NAME!r} "
                             "(CPU only); use precision='float64'")
        floor = (lambda k: self.exponents.get(k)) if self.n else (lambda k: None)
        if capability(be, "scatter_update_upper") is not None:
            stats = {k: be.column_stats(m) for k, m in mats.items()}
            bad = [k for k, (sums, lo, hi) in stats.items()
                   if not (np.isfinite(lo).all() and np.isfinite(hi).all()
                           and (np.isfinite(sums).all() or np.isfinite(mats[k]).all()))]
            if bad:
                raise ValueError(f"batch: NaN or Inf in layer(s) {bad}; the accumulator is unchanged")
            units = {k: _scale.batch_exponent(lo, hi, floor(k)) for k, (_, lo, hi) in stats.items()}
            self._be = be
            self._set_slices(mats)
            self._rescale(units)
            self._update_inplace(be, mats)
            self.float32_products |= self.precision == "float32"
            self._merge_bounds(xp, xp.concatenate([st[1] for st in stats.values()]),
                               xp.concatenate([st[2] for st in stats.values()]))
            return self
        parts = {}
        for k, m in mats.items():
            c = be.center_scaled(m, None, floor(k))
            if c is None:
                raise ValueError(f"batch: NaN or Inf in layer(s) {[k]}; the accumulator is unchanged")
            parts[k] = c
        xc = parts[next(iter(parts))].xc if len(parts) == 1 else xp.concatenate([c.xc for c in parts.values()], axis=1)
        s = be.scatter(xc, xc)
        del xc
        check_state_finite(xp, {"scatter": s}, "update")
        self._be = be
        self._set_slices(mats)
        self._rescale({k: c.exponent for k, c in parts.items()})
        self._merge(next(iter(rows.values())), xp.concatenate([c.mean for c in parts.values()]), s, owned=True)
        # the array-module backend's own float32 GEMM option counts, as in ``Moments``
        self.float32_products |= gemm_dtype(be) == "float32"
        self._merge_bounds(xp, xp.concatenate([c.lo for c in parts.values()]),
                           xp.concatenate([c.hi for c in parts.values()]))
        return self

    def _rescale(self, units: dict) -> None:
        """Bring the layers whose batch needs larger units (``units[layer]``) there, in place
        (their rows and columns of the scatter, their means); set them on the first batch."""
        if not self.n:
            self.exponents = {k: int(e) for k, e in units.items()}
            return
        shifts = {k: int(e) - self.exponents[k] for k, e in units.items()}
        if self._s is not None:
            _shift_layers(self._s, self.mean, self.slices, shifts)
        self.exponents.update({k: int(e) for k, e in units.items() if shifts[k] > 0})

    def _merge_bounds(self, xp, lo, hi) -> None:
        if self.lo is None:
            self.lo, self.hi = lo, hi
        else:
            self.lo, self.hi = xp.minimum(self.lo, lo), xp.maximum(self.hi, hi)

    def constant_features(self, key):
        """Which features of layer ``key`` took a single value over every datapoint so far.

        Parameters
        ----------
        key : hashable
            A layer of these moments.

        Returns
        -------
        numpy.ndarray of bool or None
            ``lo == hi`` per feature of the layer (host array); None while empty.
        """
        if self.lo is None:
            return None
        sl = self._slice(key)
        return np.asarray(self._be.to_numpy(self.lo[sl]) == self._be.to_numpy(self.hi[sl]))

    def _set_slices(self, mats) -> None:
        if not self.slices:
            lo = 0
            for k, m in mats.items():
                self.slices[k] = slice(lo, lo + m.shape[1])
                lo += m.shape[1]

    def _update_inplace(self, be, mats) -> None:
        xp = be.xp
        p = self.total_features
        b = next(iter(mats.values())).shape[0]
        if self._s is None:
            self._s = xp.zeros((p, p))
            self.mean = xp.zeros(p)
        f32 = self.precision == "float32"
        item = 4 if f32 else 8
        chunk = max(64, self.CHUNK_BYTES // (item * p))
        buf = xp.empty((min(chunk, b), p), dtype=xp.float32 if f32 else xp.float64)
        for lo in range(0, b, chunk):
            hi = min(b, lo + chunk)
            xb = buf[:hi - lo]
            for k, m in mats.items():
                e = self.exponents[k]
                if e:   # the layer's power-of-two units, applied before any cast (exact)
                    np.multiply(m[lo:hi], _scale.pow2(-e), out=xb[:, self.slices[k]], dtype=np.float64,
                                casting="same_kind")
                else:
                    xb[:, self.slices[k]] = m[lo:hi]
            mb = xb.mean(axis=0, dtype=xp.float64)
            xb -= mb.astype(xb.dtype)
            na, nb = self.n, hi - lo
            n = na + nb
            d = mb - self.mean
            (be.scatter_update_upper_f32 if f32 else be.scatter_update_upper)(self._s, xb, d, na * nb / n)
            self.mean += d * (nb / n)
            self.n = n
        self._upper_only = True

    def merge(self, other: "JointMoments") -> "JointMoments":
        """Merge the moments of other datapoints (same layers) into ``self`` (Chan's rule); the
        two are first brought to the larger units of each layer (exact powers of two)."""
        if not self._can_merge(other):
            return self
        if self.n and list(other.slices.items()) != list(self.slices.items()):
            raise ValueError("other: its layers or widths differ from self's")
        if not self.slices:
            self.slices = dict(other.slices)
        self._be = self._be or other._be
        s, mean = other.scatter, other.mean
        if self.n:
            units = {k: max(self.exponents[k], other.exponents[k]) for k in self.slices}
            back = {k: units[k] - other.exponents[k] for k in self.slices}
            if any(back.values()):
                s, mean = s.copy(), mean.copy()
                _shift_layers(s, mean, self.slices, back)
        else:
            units = dict(other.exponents)
        self._rescale(units)
        self._merge(other.n, mean, s, owned=False)
        self.float32_products |= other.float32_products
        if other.lo is not None:
            self._merge_bounds(self._be.xp, other.lo, other.hi)
        return self

    def _merge(self, nb, mean, s, *, owned: bool) -> None:
        if self.n == 0:
            self.n = int(nb)
            self.mean = mean if owned else mean.copy()
            self._s = s if owned else s.copy()
            self._upper_only = False
            return
        n = self.n + nb
        d = mean - self.mean
        self._be.add_scatter_rank1(self.scatter, s, d, d, self.n * nb / n)
        self.mean = self.mean + d * (nb / n)
        self.n = n

    # ------------------------------------------------------------------ blocks
    def _slice(self, key) -> slice:
        try:
            return self.slices[key]
        except KeyError:
            raise KeyError(f"layer {key!r} is not in these moments; they hold {self.layers}") from None

    def block(self, a, b):
        """The centred scatter block ``Xa_c^T Xb_c`` (p_a, p_b): a view into the joint matrix.

        Raises
        ------
        KeyError
            An unknown layer key.
        ValueError
            The accumulator is empty.
        """
        self._require_data()
        return self.scatter[self._slice(a), self._slice(b)]

    def moments(self, a, b) -> Moments:
        """A :class:`fastcca.Moments` of the pair (x = layer ``a``, y = layer ``b``), with copies
        (and this accumulator's ``precision``, so measures report its float32 error; its units
        and feature bounds)."""
        self._require_data()
        m = Moments._with_backend_module(self._be)
        m.precision = self.precision
        m.float32_products = self.float32_products
        sa, sb = self._slice(a), self._slice(b)
        m.n = self.n
        m.exponent_x, m.exponent_y = self.exponents[a], self.exponents[b]
        if self.lo is not None:
            m.lo_x, m.hi_x = self.lo[sa].copy(), self.hi[sa].copy()
            m.lo_y, m.hi_y = self.lo[sb].copy(), self.hi[sb].copy()
        m.mean_x, m.mean_y = self.mean[sa].copy(), self.mean[sb].copy()
        m.sxx = self.scatter[sa, sa].copy()
        m.syy = self.scatter[sb, sb].copy()
        m.sxy = self.scatter[sa, sb].copy()
        return m

    def _require_data(self) -> None:
        if self.n == 0:
            raise ValueError("JointMoments: empty; call update({...}) with data first")

    # ------------------------------------------------------------------ files
    @fill_doc
    def save(self, path) -> None:
        """Write the state to ``path`` (.npz, no pickle), atomically (temporary file + rename).

        Saved: ``n``, ``precision``, ``float32_products``, the layer keys (in order) with their
        widths and power-of-two exponents, the mean (P,), the joint scatter (P, P) and the
        features' minima and maxima (format ``fastcca.JointMoments/1``).  The backend is not
        saved (:meth:`load` chooses it).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        None

        Raises
        ------
        %(raises_save_keys)s

        Examples
        --------
        >>> import numpy as np, pathlib, tempfile, fastcca
        >>> rng = np.random.default_rng(0)
        >>> jm = fastcca.JointMoments().update({"a": rng.standard_normal((100, 4)), ("B", "fc"): rng.standard_normal((100, 3))})
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "grid.npz"
        >>> jm.save(path)
        >>> back = fastcca.JointMoments.load(path)
        >>> back.layers, bool((back.scatter == jm.scatter).all())
        (['a', ('B', 'fc')], True)
        """
        self._require_data()
        keys = self.layers
        arrays = dict(layers=_io.keys_field(keys), widths=np.array([self.features(k) for k in keys], dtype=np.int64),
                      exponents=np.array([self.exponents[k] for k in keys], dtype=np.int64),
                      mean=self.mean, scatter=self.scatter)
        if self.lo is not None:
            arrays.update(lo=self.lo, hi=self.hi)
        self._save_file(path, _FORMAT, arrays)

    @classmethod
    @fill_doc
    def load(cls, path, backend: str = "cpu") -> "JointMoments":
        """Read joint moments written by :meth:`save` (``numpy.load`` with ``allow_pickle=False``).

        Every field's dtype, shape, finiteness and range is checked, as in
        :meth:`fastcca.Moments.load`: ``n`` a 0-d integer >= 1; the layer keys a JSON list of
        distinct keys; widths positive and exponents within ``+-EXP_LIMIT``, one per layer; the
        mean (P,) and the scatter (P, P) finite float64 of the total width P, the scatter
        symmetric with a non-negative diagonal; the features' minima and maxima (P,) finite
        float64.  The result streams (``update``) and merges as the saved accumulator would.

        Parameters
        ----------
        %(load_args)s

        Returns
        -------
        JointMoments

        Raises
        ------
        fastcca.FastccaFileError
            A truncated, empty, foreign (a ``.npy`` array, another kind of file such as a
            ``fastcca.Moments`` one) or inconsistent file; the message names the file and the
            field (or the kind found).  The file is closed whatever happens.
        FileNotFoundError
            No file at ``path``.

        Examples
        --------
        >>> import numpy as np, pathlib, tempfile, fastcca
        >>> rng = np.random.default_rng(0)
        >>> jm = fastcca.JointMoments().update({"a": rng.standard_normal((100, 4)), "b": rng.standard_normal((100, 3))})
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "grid.npz"
        >>> jm.save(path)
        >>> fastcca.JointMoments.load(path).update({"a": rng.standard_normal((50, 4)), "b": rng.standard_normal((50, 3))}).n
        150
        """
        d, n, precision, f32 = cls._read_file(path, (_FORMAT,), ("layers", "widths", "exponents", "mean", "scatter"))
        keys = _io.field_keys(d, path, "layers")
        widths = _io.field_ints(d, path, "widths", (len(keys),), 1)
        exponents = _io.field_ints(d, path, "exponents", (len(keys),), -_scale.EXP_LIMIT, _scale.EXP_LIMIT)
        p = int(widths.sum())
        arrays = dict(mean=_io.field_array(d, path, "mean", (p,), np.float64),
                      _s=_io.field_array(d, path, "scatter", (p, p), np.float64, scatter=True))
        if "lo" in d or "hi" in d:
            _io.require_fields(d, path, ("lo", "hi"))
            arrays.update({k: _io.field_array(d, path, k, (p,), np.float64) for k in ("lo", "hi")})
        jm = cls("cpu" if backend == "auto" else backend, precision)
        jm.n, jm.float32_products = n, f32
        ends = np.cumsum(widths)
        jm.slices = {k: slice(int(e - w), int(e)) for k, w, e in zip(keys, widths, ends)}
        jm.exponents = {k: int(e) for k, e in zip(keys, exponents)}
        for k, a in arrays.items():
            setattr(jm, k, jm._be.xp.asarray(a))
        return jm


def _shift_layers(s, mean, slices: dict, shifts: dict) -> None:
    """In place: layer k's rows and columns of the joint scatter ``s`` and its entries of
    ``mean`` divided by ``2**shifts[k]`` (``shifts[k] >= 0``; exact powers of two)."""
    for k, sh in shifts.items():
        if sh > 0:
            sl = slices[k]
            _scale.scale_pow2(s[sl, :], -sh, inplace=True)
            _scale.scale_pow2(s[:, sl], -sh, inplace=True)
            _scale.scale_pow2(mean[sl], -sh, inplace=True)


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class SimilarityMatrix:
    """A labelled grid of similarities: ``values[i, j]`` compares ``rows[i]`` with ``columns[j]``.

    Parameters
    ----------
    measure : str
        The measure (its registry entry says whether the values are similarities or distances).
    rows, columns : sequence
        The labels of the two axes (layer keys, checkpoint labels, ...).
    values : array (len(rows), len(columns))
        The similarities, float64.
    row_title, column_title : str
        What the axes are (e.g. "layer (model A)", "checkpoint").
    n : int
        The number of datapoints.
    params : dict
        The measure's settings (``keep``, ``eps``, ``side``, ...).
    notes : tuple of str
        What was dropped or degenerate, per pair.
    kind : {"similarity", "distance"}, optional
        What ``values`` are; default: the registry's ``kind`` of ``measure`` (``"similarity"``
        for a name it does not hold).

    Raises
    ------
    ValueError
        ``values`` does not have the shape ``(len(rows), len(columns))``, or an unknown ``kind``.

    Notes
    -----
    For pwcca the row layer is ``x`` (its neurons weight the directions unless
    ``params['side'] == 'y'``).  ``to_dict`` / ``from_dict`` / ``to_json`` round-trip it.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> m = fastcca.SimilarityMatrix("svcca", ["fc1", "fc2"], ["fc1", "fc2"], np.array([[1.0, 0.6], [0.6, 1.0]]))
    >>> m.value("fc1", "fc2"), float(m.distance[0, 1])
    (0.6, 0.4)
    """
    measure: str
    rows: tuple
    columns: tuple
    values: np.ndarray
    row_title: str = "layer"
    column_title: str = "layer"
    n: int = 0
    params: dict = field(default_factory=dict)
    notes: tuple = ()
    kind: str | None = None

    def __post_init__(self):
        if self.kind is None:
            spec = registry.REGISTRY.get(registry.ALIASES.get(self.measure, self.measure))
            object.__setattr__(self, "kind", spec.kind if spec is not None else "similarity")
        check_choice(self.kind, "kind", ("similarity", "distance"))
        v = np.asarray(self.values, dtype=np.float64)
        if v.shape != (len(self.rows), len(self.columns)):
            raise ValueError(f"values: shape {v.shape}, expected ({len(self.rows)}, {len(self.columns)}) "
                             "= (len(rows), len(columns))")
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "rows", tuple(self.rows))
        object.__setattr__(self, "columns", tuple(self.columns))

    @property
    def distance(self) -> np.ndarray:
        """``1 - values`` for similarities; the values themselves for a distance measure."""
        return self.values if self.kind == "distance" else 1.0 - self.values

    @property
    def shape(self) -> tuple:
        """``(len(rows), len(columns))``."""
        return self.values.shape

    def value(self, row, column) -> float:
        """The entry for the labels ``row``, ``column``."""
        try:
            i, j = self.rows.index(row), self.columns.index(column)
        except ValueError:
            raise KeyError(f"({row!r}, {column!r}): rows are {list(self.rows)}, columns {list(self.columns)}") from None
        return float(self.values[i, j])

    def to_dict(self) -> dict:
        """JSON-ready dict (labels as strings, values as nested lists)."""
        return {"measure": self.measure, "rows": [str(r) for r in self.rows],
                "columns": [str(c) for c in self.columns], "values": self.values.tolist(),
                "row_title": self.row_title, "column_title": self.column_title, "n": int(self.n),
                "params": {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
                           for k, v in self.params.items()},
                "notes": list(self.notes), "kind": self.kind}

    def to_json(self, **kwargs) -> str:
        """``json.dumps`` of :meth:`to_dict` (keyword arguments go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: dict) -> "SimilarityMatrix":
        """The matrix :meth:`to_dict` described (labels come back as strings)."""
        return cls(measure=d["measure"], rows=tuple(d["rows"]), columns=tuple(d["columns"]),
                   values=np.asarray(d["values"], dtype=np.float64), row_title=d.get("row_title", "layer"),
                   column_title=d.get("column_title", "layer"), n=int(d.get("n", 0)),
                   params=dict(d.get("params", {})), notes=tuple(d.get("notes", ())), kind=d.get("kind"))

    def __str__(self) -> str:
        w = max([len(str(r)) for r in self.rows] + [4])
        head = " " * w + "  " + "  ".join(f"{str(c)[:8]:>8}" for c in self.columns)
        lines = [f"{self.measure} {self.kind}, {self.row_title} (rows) x {self.column_title} (columns), n={self.n}",
                 head]
        for r, row in zip(self.rows, self.values):
            lines.append(f"{str(r):>{w}}  " + "  ".join(f"{v:8.4f}" for v in row))
        lines += ["note: " + s for s in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------------- grids
def similarity_grid(jm: JointMoments, rows=None, columns=None, measure: str = "svcca", *,
                    keep: float | int = 0.99, keep_rule: str = "sum", eps: float = 1e-10,
                    rcond: float | None = None, rank_tol: float | None = RANK_TOL, side: str = "x",
                    row_labels=None, column_labels=None,
                    row_title: str = "layer", column_title: str = "layer",
                    progress: bool = False, **measure_kwargs) -> SimilarityMatrix:
    """Compare every layer in ``rows`` with every layer in ``columns`` from joint moments.

    Parameters
    ----------
    jm : JointMoments
        Holds every layer named in ``rows`` and ``columns``.
    rows, columns : sequence of layer keys, optional
        Default: all of ``jm``'s layers; ``columns`` defaults to ``rows``.
    measure : str
        A name of the measure registry (:data:`fastcca.REGISTRY`): ``"svcca"``, ``"cca"``,
        ``"mean_cca"``, ``"pwcca"``, ``"linear_cka"``, ``"shape_angular"``,
        ``"shape_euclidean"``, ``"procrustes"``, ``"pls"``, ``"linear_predictivity"``,
        ``"linear_predictivity_xy"``.  ``cca`` and ``mean_cca`` both give the mean canonical
        correlation.  ``pwcca`` is the paper variant; ``side`` "x" (default) weights by the row
        layer's neurons, "y" by the column layer's.  For a distance measure the values are
        distances (``SimilarityMatrix.kind``).
    keep, keep_rule, eps, rcond, rank_tol
        As in :func:`fastcca.svcca` / :func:`fastcca.cca` (``rank_tol``: the data-rank rule).
    side : {"x", "y"}
        PWCCA only: whose neurons weight the directions.
    row_labels, column_labels : sequence, optional
        Labels of the result's axes (default: ``str`` of the keys).
    row_title, column_title : str
        Axis titles of the result.
    progress : bool, default False
        A tqdm bar over the pairs.
    **measure_kwargs
        The other measures' settings (their registry entry's ``params``): ``alpha`` and
        ``rank_tol`` (shape metrics), ``normalize`` (procrustes), ``ridge``, ``score``,
        ``average`` (linear predictivity).

    Returns
    -------
    SimilarityMatrix
        ``values[i, j] = measure(rows[i], columns[j])``.

    Raises
    ------
    ValueError
        An unknown measure, an empty accumulator, fewer than 2 datapoints, or parameters the
        measure rejects.
    FloatingPointError
        The joint scatter holds inf/NaN (never from finite input; docs/numerics.md).
    TypeError
        An argument the measure does not take (e.g. ``eps`` for ``"procrustes"``).
    KeyError
        A layer key ``jm`` does not hold.

    Notes
    -----
    Each layer is prepared once by the measure's own ``prepare`` (its regularised whitening; for
    SVCCA its top directions and the whitening of the reduced block), and each pair computed by
    the measure's ``pair`` from the cross block ``S_ab``: each entry equals the one-pair
    function on ``jm.moments(a, b)`` exactly, notes included.  Symmetric measures compute each
    unordered pair once.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> a = rng.standard_normal((1000, 6))
    >>> jm = fastcca.JointMoments().update({"a": a, "b": a @ rng.standard_normal((6, 6))})
    >>> np.round(fastcca.similarity_grid(jm, measure="cca").values, 6)
    array([[1., 1.],
           [1., 1.]])
    """
    rows = jm.layers if rows is None else list(rows)
    columns = rows if columns is None else list(columns)
    pairs = [(a, b) for a in rows for b in columns]
    vals, notes = similarity_pairs(jm, pairs, measure, keep=keep, keep_rule=keep_rule, eps=eps,
                                   rcond=rcond, rank_tol=rank_tol, side=side, progress=progress,
                                   **measure_kwargs)
    if measure in _CCA_FAMILY:
        params = _params(measure, keep, keep_rule, eps, rcond, side, rank_tol)
    else:
        params = grid_params(measure, dict(measure_kwargs, **({"rank_tol": rank_tol} if rank_tol != RANK_TOL else {})))
    return SimilarityMatrix(measure=measure, rows=tuple(row_labels or [str(r) for r in rows]),
                            columns=tuple(column_labels or [str(c) for c in columns]),
                            values=np.asarray(vals).reshape(len(rows), len(columns)),
                            row_title=row_title, column_title=column_title, n=jm.n, params=params,
                            notes=notes)


def _params(measure, keep, keep_rule, eps, rcond, side, rank_tol=RANK_TOL):
    p = {"eps": eps, "rcond": rcond, "rank_tol": rank_tol}
    if measure == "svcca":
        p.update(keep=keep, keep_rule=keep_rule)
    if measure == "pwcca":
        p.update(side=side, variant="paper")
    if measure == "linear_cka":
        p = {}
    return p


def grid_params(measure: str, kwargs: dict) -> dict:
    """The settings a grid of ``measure`` records in ``SimilarityMatrix.params`` (validated,
    defaults filled in), for any registry measure."""
    a = check_measure_arguments(measure, kwargs)
    if measure in _CCA_FAMILY:
        return _params(measure, a["keep"], a["keep_rule"], a["eps"], a["rcond"], a["side"], a["rank_tol"])
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in a.items()}


#: keyword arguments of the CCA-family grid measures (``similarity_grid``, fastcca.torch); the
#: other measures take their registry entry's ``params``
MEASURE_ARGUMENTS = ("keep", "keep_rule", "eps", "rcond", "rank_tol", "side")


def check_measure_arguments(measure: str, kwargs: dict) -> dict:
    """Validate a grid measure's keyword arguments (names and values) before any work, so a
    bad ``eps`` fails before a pass over the data, not after it.  Returns them validated, with
    defaults filled in."""
    check_choice(measure, "measure", MEASURES)
    if measure not in _CCA_FAMILY:
        return registry.get(measure).validate(kwargs)
    unknown = sorted(set(kwargs) - set(MEASURE_ARGUMENTS), key=str)
    if unknown:
        raise TypeError(f"unexpected measure argument(s) {unknown}; expected {', '.join(MEASURE_ARGUMENTS)}")
    return dict(keep=check_fraction_or_count(kwargs.get("keep", 0.99)),
                keep_rule=check_choice(kwargs.get("keep_rule", "sum"), "keep_rule", KEEP_RULES),
                eps=check_nonnegative(kwargs.get("eps", 1e-10), "eps"),
                rcond=check_tolerance(kwargs.get("rcond"), "rcond"),
                rank_tol=check_tolerance(kwargs.get("rank_tol", RANK_TOL), "rank_tol"),
                side=check_choice(kwargs.get("side", "x"), "side", ("x", "y")))


def similarity_pairs(jm: JointMoments, pairs, measure: str = "svcca", *, keep: float | int = 0.99,
                     keep_rule: str = "sum", eps: float = 1e-10, rcond: float | None = None,
                     rank_tol: float | None = RANK_TOL, side: str = "x",
                     progress: bool = False, **measure_kwargs) -> tuple[np.ndarray, tuple]:
    """``measure(a, b)`` for each ``(a, b)`` in ``pairs`` (a list of layer-key pairs), sharing
    each layer's preparation (whitening / top directions) across all its pairs.  Returns
    ``(values, notes)``: a float array of ``len(pairs)`` values and a tuple of notes (dropped
    neurons, degenerate pairs).  ``measure_kwargs``: the settings of a measure outside the CCA
    family (its registry entry's ``params``)."""
    measure = check_choice(measure, "measure", MEASURES)
    family = dict(keep=keep, keep_rule=keep_rule, eps=eps, rcond=rcond, rank_tol=rank_tol, side=side)
    if measure not in _CCA_FAMILY:
        spec = registry.get(measure)
        defaults = dict(keep=0.99, keep_rule="sum", eps=1e-10, rcond=None, rank_tol=RANK_TOL, side="x")
        passed = {k: v for k, v in family.items() if v != defaults[k] or (v is None) != (defaults[k] is None)}
        if "rank_tol" in passed and "rank_tol" in spec.params:
            measure_kwargs = dict(measure_kwargs, rank_tol=passed.pop("rank_tol"))
        if passed:
            raise TypeError(f"argument(s) {sorted(passed)} do not apply to measure {measure!r}; it takes "
                            f"{', '.join(spec.params) or 'none'}")
        return _registry_pairs(jm, pairs, spec, spec.validate(measure_kwargs), progress)
    if measure_kwargs:
        raise TypeError(f"unexpected measure argument(s) {sorted(measure_kwargs)} for {measure!r}; expected "
                        f"{', '.join(MEASURE_ARGUMENTS)}")
    kw = check_measure_arguments(measure, family)
    return _registry_pairs(jm, pairs, registry.get(measure), kw, progress)


def _registry_pairs(jm: JointMoments, pairs, spec, kw: dict, progress: bool) -> tuple[np.ndarray, tuple]:
    """A registry measure by its ``prepare``/``pair`` on every pair: each layer prepared once
    (from its diagonal block of the joint scatter), each pair from its cross block.  For the
    measures that whiten (the CCA family) the per-layer notes are given once, and the
    degenerate pairs and float32 error estimates summed over the grid (one warning each)."""
    jm._require_data()
    check_enough_datapoints(jm.n, f"{spec.name} grid")
    pairs = [tuple(p) for p in pairs]
    for a, b in pairs:
        jm._slice(a), jm._slice(b)
    be = jm._be
    check_state_finite(be.xp, {"joint scatter": jm.scatter}, f"{spec.name} grid")
    f32 = jm.float32_products
    opts = {"report": False}                   # the grid reports once, below
    preps: dict = {}

    def prep(key):
        if key not in preps:
            sl = jm._slice(key)
            side = Side(be, jm.block(key, key), jm.mean[sl], int(jm.exponents[key]), jm.n, str(key),
                        jm.constant_features(key), f32)
            preps[key] = spec.prepare(side, kw)
        return preps[key]

    out = np.empty(len(pairs))
    done: dict = {}
    notes: list = []
    degenerate = 0
    for i in tqdm(range(len(pairs)), disable=not progress, desc=f"{spec.name} pairs", unit="pair"):
        a, b = pairs[i]
        sym = (b, a) if spec.symmetric else None
        if (a, b) in done or (sym is not None and sym in done):
            out[i] = done.get((a, b), done.get(sym))
            continue
        pa, pb = prep(a), prep(b)
        r = spec.pair(be, pa, pb, jm.block(a, b), kw, **opts)
        if spec.whitens and forced_ones(jm.n, pa.w.data_rank, pb.w.data_rank) > 0:
            degenerate += 1
        done[(a, b)] = out[i] = spec.value(r)
        notes += [f"{a} x {b}: {t}" for t in r.notes]
    if f32 and not spec.whitens:
        # the other measures estimate their float32 error per pair (fastcca.measures._precision):
        # each pair's note kept, one warning for the grid
        pair_f32 = [t for t in notes if is_float32_note(t)]
        if pair_f32:
            warnings.warn(f"{spec.name} grid: {len(pair_f32)} pair(s) with a large float32 error estimate "
                          f"(each in the grid's notes), e.g. {pair_f32[0]}", Float32PrecisionWarning,
                          stacklevel=4)
    if spec.whitens:
        layer_notes = [t for p in preps.values() for t in p.notes + p.rank_notes]
        notes = layer_notes + notes
        if degenerate:
            msg = (f"{degenerate} pair(s) are degenerate: {jm.n} datapoints for more dimensions than centred "
                   "data span (data ranks r_a + r_b > n - 1), so r_a + r_b - (n - 1) of their coefficients are 1 "
                   "by construction; use more datapoints or svcca")
            warnings.warn(msg, DegenerateCCAWarning, stacklevel=4)
            notes.append(msg)
        if f32:
            notes += float32_error_notes(f"{spec.name} grid", {f"layer {key}": p.inflation for key, p in preps.items()},
                                         stacklevel=4)
    return out, tuple(dict.fromkeys(notes))
