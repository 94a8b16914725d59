"""The streaming, mergeable joint moments of two activation sets: fastcca's core object.

Every measure in fastcca is a function of the count ``n``, the means ``mean_x`` (p,),
``mean_y`` (q,) and the centred scatter blocks

    Sxx = Xc^T Xc  (p, p),   Syy = Yc^T Yc  (q, q),   Sxy = Xc^T Yc  (p, q),

where X is (n, p), Y is (n, q) (samples first) and Xc, Yc are centred on their column means.
So one pass over the data suffices, in batches, and partial results merge exactly with the
pairwise rule of Chan, Golub & LeVeque (1979): for parts a, b with ``d = m_b - m_a``,

    n = n_a + n_b,  m = m_a + d n_b / n,  S = S_a + S_b + d_x d_y^T n_a n_b / n.

State is float64 whatever the batch dtype; memory is O(p^2 + q^2 + pq), independent of n.
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from . import _io
from .backend import get_backend
from ._validation import check_batch_size, check_batchable, check_choice, check_same_datapoints

_FORMAT = "fastcca.Moments/1"


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


class Moments:
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

    Attributes
    ----------
    n : int
        Datapoints accumulated so far.
    mean_x, mean_y : array (p,), (q,)
        Means of x and y (None while empty).
    sxx, syy, sxy : array (p, p), (q, q), (p, q)
        Centred scatter blocks, float64 (NumPy on the CPU, CuPy on CUDA).
    float32_products : bool
        Whether float32 products are in the state (own updates or merged shards).

    Raises
    ------
    ValueError
        An unknown ``backend`` or ``precision``.
    fastcca.BackendUnavailableError
        ``backend="cuda"`` without CuPy or a GPU.

    Notes
    -----
    Batches are centred on their own mean and merged with the pairwise rule of Chan, Golub &
    LeVeque (1979): with ``d = mean_b - mean_a``, ``S = S_a + S_b + d d^T n_a n_b / n``.  The
    same rule merges shards (:meth:`merge`), so the result does not depend on batching or order.
    Memory is O(p^2 + q^2 + pq), independent of n.  ``update`` validates the whole batch (rank,
    shapes, NaN/Inf) before it touches the state, so a failing call leaves the accumulator
    unchanged.  Passing the same array as x and y (``update(x, x)``) computes one block.

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
    PRECISIONS = ("float64", "float32")

    def __init__(self, backend: str = "auto", precision: str = "float64"):
        get_backend(backend)  # validate the name (and CUDA availability) early
        self.precision = check_choice(precision, "precision", self.PRECISIONS)
        #: whether any float32 products are in the state (own updates, or merged from others):
        #: measures then estimate their float32 error (``fastcca.measures._precision``)
        self.float32_products = False
        self._backend_name = backend
        self._be = None if backend == "auto" else get_backend(backend)
        self.n = 0
        self.mean_x = self.mean_y = None
        self.sxx = self.syy = self.sxy = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, x, y, *, batch_size: int | None = None, backend: str = "auto",
                    precision: str = "float64", progress: bool = False) -> "Moments":
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

        Returns
        -------
        Moments

        Raises
        ------
        ValueError, TypeError
            As :meth:`update`.

        Examples
        --------
        >>> import numpy as np, fastcca
        >>> x = np.random.default_rng(0).standard_normal((100, 3))
        >>> fastcca.Moments.from_arrays(x, x, batch_size=30)
        Moments(n=100, p=3, q=3, backend='cpu')
        """
        return cls(backend, precision)._fill_from_arrays(x, y, batch_size, progress)

    @classmethod
    def _with_backend_module(cls, be) -> "Moments":
        """Internal: an empty Moments bound to the kernels module (or ``XpBackend``) ``be``, not
        looked up by name.  Tests use it to run the CUDA backend's array logic on NumPy
        stand-ins (``tests/xp_standin.py``); fill it with ``update`` or ``_fill_from_arrays``."""
        m = cls("cpu")
        m._backend_name, m._be = be.NAME, be
        return m

    def _fill_from_arrays(self, x, y, batch_size, progress: bool = False) -> "Moments":
        if batch_size is None:
            be = self._be or get_backend(self._backend_name, x, y)
            hook = getattr(be, "default_batch_rows", None)
            batch_size = hook(x, y) if hook is not None else None
        return feed_in_batches(self, x, y, batch_size, progress, "moments")

    def copy(self) -> "Moments":
        """An independent copy (the state arrays are copied)."""
        new = Moments.__new__(Moments)
        new._backend_name, new._be, new.n = self._backend_name, self._be, self.n
        new.precision, new.float32_products = self.precision, self.float32_products
        for k in ("mean_x", "mean_y", "sxx", "syy", "sxy"):
            v = getattr(self, k)
            setattr(new, k, None if v is None else v.copy())
        return new

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict:
        """Pickle the five state arrays and the backend's NAME, not the kernels module
        (modules do not pickle); partial moments travel between processes this way (Dask,
        multiprocessing).  NumPy arrays go out of band under pickle protocol 5."""
        state = self.__dict__.copy()
        be = state.pop("_be", None)
        state["_be_name"] = None if be is None else be.NAME
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state.setdefault("precision", "float64")
        state.setdefault("float32_products", state["precision"] == "float32" and state.get("n", 0) > 0)
        name = state.pop("_be_name", None)
        self.__dict__.update(state)
        self._be = None if name is None else get_backend(name)

    # ------------------------------------------------------------------ properties
    @property
    def backend(self) -> str:
        """Name of the backend holding the state (``"auto"`` until the first batch)."""
        return self._be.NAME if self._be is not None else self._backend_name

    @property
    def p(self) -> int | None:
        """Neurons of x (None while empty)."""
        return None if self.mean_x is None else int(self.mean_x.shape[0])

    @property
    def q(self) -> int | None:
        """Neurons of y (None while empty)."""
        return None if self.mean_y is None else int(self.mean_y.shape[0])

    def covariance(self, ddof: int = 1):
        """The covariance blocks ``(Cxx, Cyy, Cxy) = (sxx, syy, sxy) / (n - ddof)``.

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
        """
        self._require_data()
        if self.n - ddof <= 0:
            raise ValueError(f"ddof: need n - ddof > 0, got n={self.n}, ddof={ddof}")
        d = self.n - ddof
        return self.sxx / d, self.syy / d, self.sxy / d

    def __repr__(self) -> str:
        if self.n == 0:
            return f"Moments(empty, backend={self.backend!r})"
        return f"Moments(n={self.n}, p={self.p}, q={self.q}, backend={self.backend!r})"

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
        """
        be = self._be or get_backend(self._backend_name, x, y)
        same = y is x
        xa = be.as_matrix(x, "x")
        ya = xa if same else be.as_matrix(y, "y")
        check_same_datapoints(xa, ya)
        if self.n:
            self._check_dims(xa.shape[1], ya.shape[1], "update")
        # precision="float32": centred in float64, stored in float32 for the products
        prod_dtype = be.xp.float32 if self.precision == "float32" else be.xp.float64
        cx = be.center_checked(xa, prod_dtype)
        if cx is None:
            raise ValueError(f"x: the batch holds NaN or Inf (shape {xa.shape}); the accumulator is unchanged")
        cy = cx if same else be.center_checked(ya, prod_dtype)
        if cy is None:
            raise ValueError(f"y: the batch holds NaN or Inf (shape {ya.shape}); the accumulator is unchanged")
        xc, mx = cx
        yc, my = cy
        sxx = be.scatter(xc, xc)
        syy = sxx if same else be.scatter(yc, yc)
        sxy = sxx if same else be.scatter(xc, yc)
        if self.precision == "float32":
            sxx = sxx.astype(be.xp.float64)
            syy = sxx if same else syy.astype(be.xp.float64)
            sxy = sxx if same else sxy.astype(be.xp.float64)
        self._be = be
        self._merge_parts(xa.shape[0], mx, my, sxx, syy, sxy, owned=True, same=same)
        # the CUDA backend's own float32 GEMM option (``gemm_dtype``) counts as well
        gemm32 = getattr(getattr(be, "_impl", be), "gemm_dtype", "float64") == "float32"
        self.float32_products |= self.precision == "float32" or gemm32
        return self

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
        if not isinstance(other, Moments):
            raise TypeError(f"other: expected a fastcca.Moments, got {type(other).__name__}")
        if other.n == 0:
            return self
        if self._be is not None and other._be is not None and self._be is not other._be:
            raise ValueError(f"other: lives on backend {other.backend!r}, self on {self.backend!r}")
        if self.n:
            self._check_dims(other.p, other.q, "merge")
        self._be = self._be or other._be
        self._merge_parts(other.n, other.mean_x, other.mean_y, other.sxx, other.syy, other.sxy,
                          owned=False, same=False)
        self.float32_products |= other.float32_products
        return self

    def _merge_parts(self, nb, mx, my, sxx, syy, sxy, *, owned: bool, same: bool) -> None:
        be = self._be
        if self.n == 0:
            def own(a):
                return a if owned else a.copy()
            self.n = int(nb)
            self.mean_x = own(mx)
            self.sxx = own(sxx)
            if same:  # x is y: keep three independent blocks so later batches may differ
                self.mean_y, self.syy, self.sxy = self.mean_x.copy(), self.sxx.copy(), self.sxx.copy()
            else:
                self.mean_y, self.syy, self.sxy = own(my), own(syy), own(sxy)
            return
        na = self.n
        n = na + nb
        c = na * nb / n
        dx = mx - self.mean_x
        dy = my - self.mean_y
        be.add_scatter_rank1(self.sxx, sxx, dx, dx, c)
        be.add_scatter_rank1(self.syy, syy, dy, dy, c)
        be.add_scatter_rank1(self.sxy, sxy, dx, dy, c)
        self.mean_x = self.mean_x + dx * (nb / n)
        self.mean_y = self.mean_y + dy * (nb / n)
        self.n = n

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

        Parameters
        ----------
        path : str or path-like

        Raises
        ------
        ValueError
            The accumulator is empty.
        """
        self._require_data()
        be = self._be
        _io.save_npz_atomic(path, dict(
            format=np.array(_FORMAT), n=np.array(self.n, dtype=np.int64), precision=np.array(self.precision),
            float32_products=np.array(self.float32_products),
            mean_x=be.to_numpy(self.mean_x), mean_y=be.to_numpy(self.mean_y),
            sxx=be.to_numpy(self.sxx), syy=be.to_numpy(self.syy), sxy=be.to_numpy(self.sxy)))

    @classmethod
    def load(cls, path, backend: str = "cpu") -> "Moments":
        """Read moments written by :meth:`save` (``numpy.load`` with ``allow_pickle=False``).

        Every field's dtype, shape, finiteness and range is checked: ``n`` a 0-d integer >= 1;
        means 1-D finite float64; scatter blocks finite float64 of the shapes the means imply,
        symmetric with a non-negative diagonal; ``precision`` and ``float32_products`` of their
        own types (absent in older files: float64).

        Parameters
        ----------
        path : str or path-like
        backend : {"cpu", "cuda"}, default "cpu"
            Where the loaded state lives.

        Returns
        -------
        Moments

        Raises
        ------
        fastcca.FastccaFileError
            A truncated, empty, foreign (a ``.npy`` array, another format) or inconsistent file;
            the message names the file and the field.  The file is closed whatever happens.
        FileNotFoundError
            No file at ``path``.
        """
        d = _io.load_npz(path, _FORMAT, ("n", "mean_x", "mean_y", "sxx", "syy", "sxy"))
        n = _io.field_count(d, path, "n")
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
        # files written before precision was saved hold float64 products
        precision = _io.field_choice(d, path, "precision", cls.PRECISIONS, default="float64")
        f32 = _io.field_flag(d, path, "float32_products", default=precision == "float32")
        m = cls("cpu" if backend == "auto" else backend, precision)
        m.float32_products = f32
        be = m._be
        m.n = n
        for k, a in arrays.items():
            setattr(m, k, be.xp.asarray(a))
        return m
