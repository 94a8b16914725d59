"""The streaming, mergeable joint moments of two activation sets: fastcca's core object.

Every measure in fastcca is a function of the count ``n``, the means ``mean_x`` (p,),
``mean_y`` (q,) and the centred scatter blocks

    Sxx = Xc^T Xc  (p, p),   Syy = Yc^T Yc  (q, q),   Sxy = Xc^T Yc  (p, q),

where X is (n, p), Y is (n, q) (samples first) and Xc, Yc are centred on their column means.
So one pass over the data suffices, in batches, and partial results merge exactly with the
pairwise rule of Chan, Golub & LeVeque (1979): for parts a, b with ``d = m_b - m_a``,

    n = n_a + n_b,  m = m_a + d n_b / n,  S = S_a + S_b + d_x d_y^T n_a n_b / n.

State is float64 whatever the batch dtype; memory is O(p^2 + q^2 + pq), independent of n.

Units (issue [numerics]): each side is held in units of a power of two, ``2**exponent_x`` and
``2**exponent_y`` (``fastcca.kernels._scale``), so the state never overflows or underflows whatever the
magnitude of the activations: ``mean_x = mean / 2**exponent_x``, ``sxx = Sxx / 4**exponent_x``,
``sxy = Sxy / 2**(exponent_x + exponent_y)``.  For activations of ordinary size (column ranges
between ~1.2e-10 and ~2.1e9) both exponents are 0 and the arrays are the moments themselves.
Every measure is invariant to rescaling either side, so it reads the scaled state directly;
:meth:`Moments.in_data_units` and :meth:`Moments.covariance` convert back.
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from . import _hsic, _io
from ._docstrings import fill as fill_doc
from .kernels import _scale
from ._accumulator import PairAccumulator
from .backend import gemm_dtype, get_backend
from ._validation import PRECISIONS
from ._validation import (check_batch_size, check_batchable, check_choice, check_optional_count,
                          check_same_datapoints, check_state_finite)

_FORMAT = "fastcca.Moments/1"
#: written instead of ``_FORMAT`` when an exponent is not 0: the arrays are then not in the data's
#: units, and a fastcca that does not know the exponents must refuse the file, not misread it
_FORMAT_SCALED = "fastcca.Moments/2"
_STATE = ("mean_x", "mean_y", "sxx", "syy", "sxy")
_BOUNDS = ("lo_x", "hi_x", "lo_y", "hi_y")


def feed_in_batches(acc, x, y, batch_size, progress: bool = False, desc: str = "moments",
                    ndim: int = 2):
    """``acc.update`` on row batches of ``batch_size`` datapoints of x and y (all at once when
    ``batch_size`` is None or covers n); returns ``acc``.  Shared by every accumulator's
    ``from_arrays`` (``Moments``, ``ConvMoments``: ``ndim`` 2 or 4).

    Before any batch: ``batch_size`` and the inputs' type, rank and row counts are checked
    (``check_batchable``; a memory-mapped array or h5py dataset is not read for it), so an
    iterator, a sparse or masked array, a ragged list or mismatched row counts fail with the
    argument's name.  A batch's own error (NaN/Inf, dtype) names its rows."""
    batch_size = check_batch_size(batch_size)
    same = y is x
    x = check_batchable(x, "x", ndim)
    y = x if same else check_batchable(y, "y", ndim)
    n = len(x)
    if len(y) != n:
        raise ValueError(f"x and y must hold the same datapoints (samples first): x has {n} rows, shape "
                         f"{tuple(x.shape)}; y has {len(y)} rows, shape {tuple(y.shape)}")
    if batch_size is None or batch_size >= n:
        return acc.update(x, y)
    for lo in tqdm(range(0, n, batch_size), disable=not progress, desc=desc, unit="batch"):
        xb = x[lo:lo + batch_size]
        try:
            acc.update(xb, xb if same else y[lo:lo + batch_size])
        except (ValueError, TypeError) as exc:
            if type(exc) not in (ValueError, TypeError):
                raise
            raise type(exc)(f"{exc} (in the batch of rows {lo}:{min(lo + batch_size, n)} of {n})") from None
    return acc


class Moments(PairAccumulator):
    """Joint first and second moments of X (n, p) and Y (n, q), accumulated batch by batch.

    The state is the count ``n``, the means ``mean_x`` (p,) and ``mean_y`` (q,), and the centred
    scatter blocks ``sxx = Xc^T Xc`` (p, p), ``syy`` (q, q) and ``sxy = Xc^T Yc`` (p, q), always
    float64.  Every measure (:func:`fastcca.cca`, :func:`fastcca.svcca`, ...) takes a Moments in
    place of the two arrays, so one pass over the data serves all of them.

    Parameters
    ----------
    backend : {"auto", "cpu", "cuda"}
        Where the state lives and the products run.  ``"auto"`` is fixed by the first batch
        (CuPy or CUDA torch input -> ``"cuda"``, anything else -> ``"cpu"``).
    precision : {"float64", "float32"}
        Arithmetic of each batch's products.  ``"float64"`` (default) is exact to rounding.
        ``"float32"`` centres each batch in float64, forms its products in single precision
        (about 2x the speed on CPU BLAS) and merges them into the float64 state; every measure
        then estimates its own error and warns where it is large (docs/definitions.md,
        *Precision*).  Opt in for float32 activations when speed matters more than the last digits.
    debiased_cka : bool, default False
        Also keep the O(p + q) statistics :func:`fastcca.debiased_cka` needs beyond the moments
        (``fastcca._hsic``: three sums of squared row norms and four vectors), merged exactly.
    shards : int, optional
        Also keep this many shard accumulators (>= 2), so that :func:`fastcca.jackknife` can
        give every measure a delete-one-shard standard error and confidence interval without
        another pass.  Memory: ``shards + 1`` states.
    shard_by : {"batch", "index"}, default "batch"
        ``"batch"``: whole batches go to the shards in turn (batch k to shard ``k % shards``);
        ``"index"``: datapoint i (counted over all batches) goes to shard ``i % shards``, so
        shards are balanced whatever the batch sizes (each batch is split; the products cost
        the same in total).

    Attributes
    ----------
    n : int
        Datapoints accumulated so far.
    mean_x, mean_y : array (p,), (q,)
        Means of x and y (None while empty), in units of ``2**exponent_x`` / ``2**exponent_y``.
    sxx, syy, sxy : array (p, p), (q, q), (p, q)
        Centred scatter blocks, float64 (NumPy on the CPU, CuPy on CUDA), in units of
        ``4**exponent_x``, ``4**exponent_y``, ``2**(exponent_x + exponent_y)``.  For activations
        of ordinary size both exponents are 0 and these are the moments themselves.
    exponent_x, exponent_y : int
        Power-of-two units of each side (multiples of 64, see the module docstring and
        docs/numerics.md); :meth:`in_data_units` and :meth:`covariance` convert back.
    lo_x, hi_x, lo_y, hi_y : array (p,), (q,) or None
        Column minima and maxima seen so far, in the data's units: a neuron is constant exactly
        when ``lo == hi`` (None for moments from files written before they were recorded).
    float32_products : bool
        Whether float32 products are in the state (own updates or merged shards).
    shards : list of Moments or None
        The shard accumulators (``shards=`` given); their merge is this accumulator's state.

    Raises
    ------
    ValueError
        An unknown ``backend``, ``precision`` or ``shard_by``, or ``shards`` < 2.
    TypeError
        ``shards`` not an int, ``debiased_cka`` not a bool.
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a GPU.

    Notes
    -----
    Batches are centred on their own mean and merged with the pairwise rule of Chan, Golub &
    LeVeque (1979): with ``d = mean_b - mean_a``, ``S = S_a + S_b + d d^T n_a n_b / n``.  The
    same rule merges shards (:meth:`merge`), so the result does not depend on batching or order.
    Each side is held in exact power-of-two units, so activations of any finite magnitude
    accumulate without overflow or underflow.  Memory is O(p^2 + q^2 + pq), independent of n.
    ``update`` validates the whole batch (rank, shapes, NaN/Inf), computes its own moments and
    checks them (an infinite product raises ``FloatingPointError``) before it touches the state,
    so a failing call leaves the accumulator unchanged.  Passing the same array as x and y
    (``update(x, x)``) computes one block.

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> m = fastcca.Moments()
    >>> for _ in range(4):                               # batches xb: (b, p), yb: (b, q)
    ...     xb = rng.standard_normal((250, 8))
    ...     _ = m.update(xb, xb[:, :5] + rng.standard_normal((250, 5)))   # returns m
    >>> m.n, m.p, m.q
    (1000, 8, 5)
    >>> round(fastcca.cca(m).similarity, 1)       # each coefficient near 1/sqrt(2)
    0.7
    """

    #: ``precision`` choices: the arithmetic of each batch's products (the state is float64)
    PRECISIONS = PRECISIONS

    #: ``shard_by`` choices
    SHARD_BY = ("batch", "index")

    def __init__(self, backend: str = "auto", precision: str = "float64", *, debiased_cka: bool = False,
                 shards: int | None = None, shard_by: str = "batch"):
        be = get_backend(backend)  # validates the name (and CUDA availability) early
        self.precision = check_choice(precision, "precision", self.PRECISIONS)
        if not isinstance(debiased_cka, (bool, np.bool_)):
            raise TypeError(f"debiased_cka: expected True or False, got {debiased_cka!r}")
        shards = check_optional_count(shards, "shards")
        if shards is not None and shards < 2:
            raise ValueError(f"shards: a jackknife needs at least 2 shards, got {shards}")
        self.shard_by = check_choice(shard_by, "shard_by", self.SHARD_BY)
        #: whether the statistics of :func:`fastcca.debiased_cka` are kept (``fastcca._hsic``)
        self.debiased_cka = bool(debiased_cka)
        self._hsic = None
        self.shards = None if shards is None else [
            Moments(backend, precision, debiased_cka=debiased_cka) for _ in range(shards)]
        self._routed = 0      # batches (shard_by="batch") or datapoints ("index") routed so far
        #: whether any float32 products are in the state (own updates, or merged from others):
        #: measures then estimate their float32 error (``fastcca.measures._precision``)
        self.float32_products = False
        self._backend_name = backend
        self._be = None if backend == "auto" else be
        self.n = 0
        self.mean_x = self.mean_y = None
        self.sxx = self.syy = self.sxy = None
        self.exponent_x = self.exponent_y = 0
        self.lo_x = self.hi_x = self.lo_y = self.hi_y = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, x, y, *, batch_size: int | None = None, backend: str = "auto",
                    precision: str = "float64", progress: bool = False, **options) -> "Moments":
        """Moments of whole arrays x (n, p) and y (n, q), samples first.

        Parameters
        ----------
        x, y : array-like (n, p), (n, q)
            The activations (any input :func:`fastcca.cca` accepts).
        batch_size : int, optional
            Rows per batch; bounds the temporary centred copies to ``batch_size * (p + q)``
            values.  Default: the backend decides (its ``default_batch_rows(x, y)``): the CPU
            takes one batch; CUDA streams host arrays in row chunks sized to free device memory,
            so an array larger than the GPU still works.
        backend, precision
            As in :class:`Moments`.
        progress : bool, default False
            A tqdm bar over the batches.
        **options
            ``debiased_cka``, ``shards``, ``shard_by``: as in :class:`Moments`.

        Returns
        -------
        Moments

        Raises
        ------
        ValueError, TypeError
            As :meth:`update` and :class:`Moments`.

        Examples
        --------
        >>> import numpy as np, fastcca
        >>> x = np.random.default_rng(0).standard_normal((100, 3))
        >>> fastcca.Moments.from_arrays(x, x, batch_size=30)
        Moments(n=100, p=3, q=3, backend='cpu')
        """
        return cls(backend, precision, **options)._fill_from_arrays(x, y, batch_size, progress)

    @classmethod
    def _with_backend_module(cls, be, precision: str = "float64") -> "Moments":
        """Internal: an empty Moments bound to the kernels module (or ``XpBackend``) ``be``, not
        looked up by name: for a caller that has resolved the backend already (the measures
        resolve it once per call), and for tests that run the CUDA backend's array logic on
        NumPy stand-ins (``tests/xp_standin.py``); fill it with ``update`` or
        ``_fill_from_arrays``."""
        m = cls("cpu", precision)
        m._backend_name, m._be = be.NAME, be
        return m

    def _like(self, **kw) -> "Moments":
        """An empty Moments with this one's backend, precision and statistics (for shards)."""
        m = Moments("cpu", self.precision, debiased_cka=self.debiased_cka, **kw)
        m._backend_name, m._be = self._backend_name, self._be
        return m

    def _fill_from_arrays(self, x, y, batch_size, progress: bool = False) -> "Moments":
        if batch_size is None:
            be = self._be or get_backend(self._backend_name, x, y)
            batch_size = be.default_batch_rows(x, y)
        return feed_in_batches(self, x, y, batch_size, progress, "moments")

    # ------------------------------------------------------------------ pickling
    @staticmethod
    def _upgrade_state(state: dict) -> None:
        """Defaults for pickles of older versions (pickling itself: ``PairAccumulator``)."""
        state.setdefault("precision", "float64")
        PairAccumulator._upgrade_state(state)
        # pickles from before the power-of-two units: the arrays are in the data's units
        state.setdefault("exponent_x", 0)
        state.setdefault("exponent_y", 0)
        for k in _BOUNDS:
            state.setdefault(k, None)
        for k, v in (("debiased_cka", False), ("_hsic", None), ("shards", None), ("shard_by", "batch"), ("_routed", 0)):
            state.setdefault(k, v)

    # ------------------------------------------------------------------ properties
    @property
    def p(self) -> int | None:
        """Neurons of x (None while empty)."""
        return None if self.mean_x is None else int(self.mean_x.shape[0])

    @property
    def q(self) -> int | None:
        """Neurons of y (None while empty)."""
        return None if self.mean_y is None else int(self.mean_y.shape[0])

    def covariance(self, ddof: int = 1):
        """The covariance blocks ``(Cxx, Cyy, Cxy) = (Sxx, Syy, Sxy) / (n - ddof)``, in the data's
        units (the stored blocks times their power-of-two units).

        Parameters
        ----------
        ddof : int, default 1
            Delta degrees of freedom.  No measure depends on it (the factor cancels).

        Returns
        -------
        tuple of arrays (p, p), (q, q), (p, q)

        Raises
        ------
        ValueError
            Empty accumulator, or ``n - ddof <= 0``.
        FloatingPointError
            A covariance that float64 cannot hold (activations of magnitude ~1e154 and more);
            the measures never need it.
        """
        self._require_data()
        if self.n - ddof <= 0:
            raise ValueError(f"ddof: need n - ddof > 0, got n={self.n}, ddof={ddof}")
        d = self.n - ddof
        xp, ex, ey = self._be.xp, self.exponent_x, self.exponent_y
        return (_scale.to_data_units(xp, self.sxx / d, 2 * ex, "covariance Cxx"),
                _scale.to_data_units(xp, self.syy / d, 2 * ey, "covariance Cyy"),
                _scale.to_data_units(xp, self.sxy / d, ex + ey, "covariance Cxy"))

    def in_data_units(self) -> dict:
        """The state in the data's units.

        Returns
        -------
        dict
            ``{"mean_x", "mean_y", "sxx", "syy", "sxy"}``: the arrays themselves when both
            exponents are 0, else copies times their power-of-two units.

        Raises
        ------
        ValueError
            Empty accumulator.
        FloatingPointError
            A block that float64 cannot hold (named in the message).
        """
        self._require_data()
        xp, ex, ey = self._be.xp, self.exponent_x, self.exponent_y
        units = dict(mean_x=ex, mean_y=ey, sxx=2 * ex, syy=2 * ey, sxy=ex + ey)
        return {k: _scale.to_data_units(xp, getattr(self, k), e, k) for k, e in units.items()}

    def constant_neurons(self, side: str = "x"):
        """Which neurons of one side took a single value over every datapoint so far.

        Parameters
        ----------
        side : {"x", "y"}

        Returns
        -------
        numpy.ndarray of bool or None
            ``lo == hi`` per neuron (host array); None when the bounds are unknown (moments
            loaded from files written before they were recorded).
        """
        lo, hi = (self.lo_x, self.hi_x) if side == "x" else (self.lo_y, self.hi_y)
        if lo is None or hi is None:
            return None
        return np.asarray(self._be.to_numpy(lo) == self._be.to_numpy(hi))

    def __repr__(self) -> str:
        if self.n == 0:
            return f"Moments(empty, backend={self.backend!r})"
        units = (f", units 2**{self.exponent_x} / 2**{self.exponent_y}"
                 if self.exponent_x or self.exponent_y else "")
        extra = (", debiased_cka=True" if self.debiased_cka else "") + (
            f", shards={len(self.shards)} by {self.shard_by}" if self.shards is not None else "")
        return f"Moments(n={self.n}, p={self.p}, q={self.q}, backend={self.backend!r}{units}{extra})"

    # ------------------------------------------------------------------ streaming
    def update(self, x, y) -> "Moments":
        """Add a batch: x (b, p), y (b, q), samples first.

        Parameters
        ----------
        x, y : array-like (b, p), (b, q)
            The same b datapoints in the same order.  ``y is x`` computes one block only.

        Returns
        -------
        Moments
            ``self``.

        Raises
        ------
        ValueError
            NaN/Inf, mismatched datapoint counts, a wrong rank, empty input, or neuron counts
            that differ from earlier batches; the state is then unchanged.
        TypeError
            Complex or non-numeric input.
        FloatingPointError
            An infinite product (never from finite input, which is scaled to power-of-two units
            first); the state is then unchanged.
        """
        be = self._be or get_backend(self._backend_name, x, y)
        same = y is x
        xa = be.as_matrix(x, "x")
        ya = xa if same else be.as_matrix(y, "y")
        check_same_datapoints(xa, ya)
        if self.n:
            self._check_dims(xa.shape[1], ya.shape[1], "update")
        if self.shards is not None and self.shard_by == "index":
            return self._update_by_index(be, xa, ya, same)
        shard = None
        if self.shards is not None:
            shard = self.shards[self._routed % len(self.shards)]
        self._update_checked(be, xa, ya, same, shard)
        if shard is not None:
            self._routed += 1
        return self

    def _update_by_index(self, be, xa, ya, same: bool) -> "Moments":
        """``shard_by="index"``: rows i (counted over all batches) with ``i % k == j`` go to shard
        j.  The whole batch is checked for NaN/Inf first, so a failing call changes nothing."""
        xp = be.xp
        for name, a in (("x", xa), ("y", ya)):
            if not bool(xp.isfinite(a).all()):
                raise ValueError(f"{name}: the batch holds NaN or Inf (shape {a.shape}); the accumulator is unchanged")
        k, b = len(self.shards), xa.shape[0]
        first = (-self._routed) % k                  # the row of this batch that goes to shard 0
        for j in range(k):
            rows = xp.arange((first + j) % k, b, k)
            if rows.shape[0]:
                xs = xa[rows]
                self._update_checked(be, xs, xs if same else ya[rows], same, self.shards[j])
        self._routed += b
        return self

    def _update_checked(self, be, xa, ya, same: bool, shard) -> None:
        """One batch of validated matrices into the state (and into ``shard`` when given)."""
        # precision="float32": centred in float64, stored in float32 for the products; the batch
        # lands in the state's power-of-two units or larger ones (the state is then rescaled)
        prod_dtype = be.xp.float32 if self.precision == "float32" else be.xp.float64
        floor_x = (max(self.exponent_x, self.exponent_y) if same else self.exponent_x) if self.n else None
        cx = be.center_scaled(xa, prod_dtype, floor_x)
        if cx is None:
            raise ValueError(f"x: the batch holds NaN or Inf (shape {xa.shape}); the accumulator is unchanged")
        cy = cx if same else be.center_scaled(ya, prod_dtype, self.exponent_y if self.n else None)
        if cy is None:
            raise ValueError(f"y: the batch holds NaN or Inf (shape {ya.shape}); the accumulator is unchanged")
        sxx = be.scatter(cx.xc, cx.xc)
        syy = sxx if same else be.scatter(cy.xc, cy.xc)
        sxy = sxx if same else be.scatter(cx.xc, cy.xc)
        if self.precision == "float32":
            sxx = sxx.astype(be.xp.float64)
            syy = sxx if same else syy.astype(be.xp.float64)
            sxy = sxx if same else sxy.astype(be.xp.float64)
        # scaled data cannot overflow its products; this guards the contract regardless
        check_state_finite(be.xp, {"sxx": sxx, "syy": syy, "sxy": sxy}, "update",
                           {"x": cx.exponent, "y": cy.exponent})
        hsic = _hsic.HsicStats.of_batch(be, cx.xc, cy.xc) if self.debiased_cka else None
        # the CUDA backend's own float32 GEMM option (``gemm_dtype``) counts as well
        gemm32 = gemm_dtype(be) == "float32"
        part = (xa.shape[0], cx.mean, cy.mean, sxx, syy, sxy, cx.exponent, cy.exponent, (cx.lo, cx.hi, cy.lo, cy.hi))
        for acc in ((shard, self) if shard is not None else (self,)):
            acc._be = be
            # the shard copies what it keeps; the total owns the batch's arrays
            acc._merge_parts(*part, owned=acc is self, same=same, hsic=hsic)
            acc.float32_products |= self.precision == "float32" or gemm32

    def merge(self, other: "Moments") -> "Moments":
        """Merge the moments of other datapoints (same neurons) into ``self``.

        Parameters
        ----------
        other : Moments
            Another accumulator over the same neurons (e.g. a shard computed elsewhere).

        Returns
        -------
        Moments
            ``self``.

        Raises
        ------
        TypeError
            ``other`` is not a Moments.
        ValueError
            Different neuron counts or backends.

        Notes
        -----
        Exact (Chan's pairwise rule), so shards computed anywhere combine in any order.
        """
        if not self._can_merge(other):
            return self
        if self.n:
            self._check_dims(other.p, other.q, "merge")
        if self.debiased_cka and other._hsic is None:
            raise ValueError("other: holds no debiased-CKA statistics (made without debiased_cka=True); "
                             "they cannot be merged exactly into self, which keeps them; self is unchanged")
        if self.shards is not None and other.shards is not None and len(other.shards) != len(self.shards):
            raise ValueError(f"other: has {len(other.shards)} shards, self {len(self.shards)}; self is unchanged")
        self._be = self._be or other._be
        if self.shards is not None:
            if other.shards is not None:           # shard by shard
                for mine, theirs in zip(self.shards, other.shards):
                    mine.merge(theirs)
                self._routed += other._routed
            else:                                  # one more part, to the next shard
                self.shards[self._routed % len(self.shards)].merge(other)
                self._routed += 1 if self.shard_by == "batch" else other.n
        self._merge_parts(other.n, other.mean_x, other.mean_y, other.sxx, other.syy, other.sxy,
                          other.exponent_x, other.exponent_y,
                          (other.lo_x, other.hi_x, other.lo_y, other.hi_y), owned=False, same=False,
                          hsic=other._hsic)
        self.float32_products |= other.float32_products
        return self

    def _merge_parts(self, nb, mx, my, sxx, syy, sxy, ex, ey, bounds, *, owned: bool, same: bool,
                     hsic=None) -> None:
        """Chan's merge of a part (``nb`` datapoints, state arrays in units ``2**ex``/``2**ey``,
        column bounds ``(lo_x, hi_x, lo_y, hi_y)``, debiased-CKA statistics ``hsic``) into the
        state.  Both are first brought to the larger exponent of each side: multiplications by
        powers of two, exact."""
        be = self._be
        keep = self.debiased_cka and hsic is not None
        if self.n == 0:
            self._hsic = hsic.copy() if keep else None
            def own(a):
                return a if owned or a is None else a.copy()
            self.n = int(nb)
            self.exponent_x, self.exponent_y = int(ex), int(ey)
            self.mean_x = own(mx)
            self.sxx = own(sxx)
            self.lo_x, self.hi_x = own(bounds[0]), own(bounds[1])
            if same:  # x is y: keep three independent blocks so later batches may differ
                self.mean_y, self.syy, self.sxy = self.mean_x.copy(), self.sxx.copy(), self.sxx.copy()
                self.lo_y, self.hi_y = self.lo_x.copy(), self.hi_x.copy()
            else:
                self.mean_y, self.syy, self.sxy = own(my), own(syy), own(sxy)
                self.lo_y, self.hi_y = own(bounds[2]), own(bounds[3])
            return
        ox, oy = self.exponent_x, self.exponent_y
        mx, my, sxx, syy, sxy = _scale.align_for_merge(self, (mx, my, sxx, syy, sxy), ex, ey)
        na = self.n

        def statistics_first(dx, dy):
            # before the blocks move: the statistics shift with each part's own
            ux, uy = self.exponent_x, self.exponent_y
            self._hsic = _hsic.merged(be, na, (self.sxx, self.syy, self.sxy), self._hsic.rescaled(ux - ox, uy - oy),
                                      nb, (sxx, syy, sxy), hsic.rescaled(ux - int(ex), uy - int(ey)), dx, dy)
        self._chan_merge(nb, mx, my, sxx, syy, sxy, be.add_scatter_rank1, statistics_first if keep else None)
        self._merge_bounds(be.xp, bounds)

    def _merge_bounds(self, xp, bounds) -> None:
        """Column minima/maxima of the union; unknown (None) once either part lacks them."""
        mine = (self.lo_x, self.hi_x, self.lo_y, self.hi_y)
        if any(b is None for b in mine + tuple(bounds)):
            self.lo_x = self.hi_x = self.lo_y = self.hi_y = None
            return
        self.lo_x, self.lo_y = xp.minimum(mine[0], bounds[0]), xp.minimum(mine[2], bounds[2])
        self.hi_x, self.hi_y = xp.maximum(mine[1], bounds[1]), xp.maximum(mine[3], bounds[3])

    def _check_dims(self, p, q, where: str) -> None:
        if p != self.p or q != self.q:
            raise ValueError(
                f"{where}: neuron counts (p={p}, q={q}) differ from the accumulator's "
                f"(p={self.p}, q={self.q}); the accumulator is unchanged")

    def _require_data(self) -> None:
        if self.n == 0:
            raise ValueError("moments: the accumulator is empty; call update(x, y) with data first")

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write the state to ``path`` (.npz, no pickle), atomically (temporary file + rename).

        The power-of-two exponents and the column bounds are saved with it; a state whose
        exponents are not 0 is written as format ``fastcca.Moments/2`` so that a fastcca that
        predates them refuses it instead of reading scaled arrays as the moments.  The
        debiased-CKA statistics are saved too; shards are not (save each shard, or pickle).

        Parameters
        ----------
        path : str or path-like

        Raises
        ------
        ValueError
            The accumulator is empty.
        """
        self._require_data()
        arrays = dict(exponent_x=np.array(self.exponent_x, dtype=np.int64),
                      exponent_y=np.array(self.exponent_y, dtype=np.int64),
                      **{k: getattr(self, k) for k in _STATE})
        if self.lo_x is not None:
            arrays.update({k: getattr(self, k) for k in _BOUNDS})
        if self._hsic is not None:
            arrays.update(_hsic.as_host(self._be, self._hsic))
        self._save_file(path, _FORMAT if not (self.exponent_x or self.exponent_y) else _FORMAT_SCALED, arrays)

    @classmethod
    @fill_doc
    def load(cls, path, backend: str = "cpu") -> "Moments":
        """Read moments written by :meth:`save` (``numpy.load`` with ``allow_pickle=False``).

        Every field's dtype, shape, finiteness and range is checked: ``n`` a 0-d integer >= 1;
        means 1-D finite float64; scatter blocks finite float64 of the shapes the means imply,
        symmetric with a non-negative diagonal; ``precision`` and ``float32_products`` of their
        own types (absent in older files: float64); the power-of-two exponents 0-d integers
        (absent in older files: 0, the data's units) and the column bounds finite float64 (absent
        in older files: constant neurons are then not told apart in ``notes``).

        Parameters
        ----------
        %(load_args)s

        Returns
        -------
        Moments

        Raises
        ------
        fastcca.FastccaFileError
            A truncated, empty, foreign (a ``.npy`` array, another format) or inconsistent file
            (also a scaled file without its exponents); the message names the file and the
            field.  The file is closed whatever happens.
        FileNotFoundError
            No file at ``path``.
        """
        d, n, precision, f32 = cls._read_file(path, (_FORMAT, _FORMAT_SCALED), _STATE)
        dims = []
        for k in ("mean_x", "mean_y"):
            a = d[k]
            if a.ndim != 1 or a.shape[0] < 1:
                raise _io._field_error(path, k, "a 1-D float64 array of at least one neuron", a)
            dims.append(a.shape[0])
        p, q = dims
        fields = {"mean_x": ((p,), False), "mean_y": ((q,), False), "sxx": ((p, p), True),
                  "syy": ((q, q), True), "sxy": ((p, q), False)}
        arrays = {k: _io.field_array(d, path, k, shp, np.float64, scatter=sc) for k, (shp, sc) in fields.items()}
        if all(k in d for k in _BOUNDS):
            arrays.update({k: _io.field_array(d, path, k, (w,), np.float64) for k, w in zip(_BOUNDS, (p, p, q, q))})
        # files written before precision was saved hold float64 products (``_read_file``)
        m = cls("cpu" if backend == "auto" else backend, precision)
        m.float32_products = f32
        m.exponent_x, m.exponent_y = _load_exponents(path, d)
        be = m._be
        m.n = n
        for k, a in arrays.items():
            setattr(m, k, be.xp.asarray(a))
        if any(f"hsic_{k}" in d for k in _hsic.FIELDS):
            shapes = dict(a2=(), b2=(), ab=(), ux=(p,), vx=(p,), uy=(q,), vy=(q,))
            h = {k: _io.field_array(d, path, f"hsic_{k}", shp, np.float64) for k, shp in shapes.items()}
            m.debiased_cka = True
            m._hsic = _hsic.HsicStats(*(float(h[k]) for k in ("a2", "b2", "ab")),
                                      *(be.xp.asarray(h[k]) for k in ("ux", "vx", "uy", "vy")))
        return m


def _load_exponents(path, d) -> tuple[int, int]:
    """The (exponent_x, exponent_y) of a loaded state: 0 for format-1 files without them (the
    data's units); 0-d integers within ``_scale.EXP_LIMIT``, else ``FastccaFileError`` naming the
    file and the field."""
    out = []
    for k in ("exponent_x", "exponent_y"):
        if k not in d:
            if str(d.get("format", "")).endswith("/2"):
                raise _io.FastccaFileError(f"{path}: a scaled ({d['format']}) file lacks {k}")
            out.append(0)
            continue
        v = d[k]
        if v.shape != () or v.dtype.kind not in "iu" or abs(int(v)) > _scale.EXP_LIMIT:
            raise _io._field_error(path, k, f"a 0-d integer within +-{_scale.EXP_LIMIT}", v)
        out.append(int(v))
    return out[0], out[1]
