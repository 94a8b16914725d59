"""Streaming, mergeable per-frequency moments of two conv layers (SVCCA, Raghu et al. 2017,
section 3 and appendix C).

For activations X (n, c1, h1, w1) and Y (n, c2, h2, w2) let ``X_f`` (n, c1) be the 2-D DFT
over the spatial axes of every channel at frequency ``f`` (complex).  For each compared
frequency class f of the :class:`~fastcca.conv._grid.FrequencyGrid` the state holds

    mean_x[f] (c1,),  mean_y[f] (c2,)                       (complex, the DFT of the mean image)
    sxx[f] = Xc_f^H Xc_f (c1, c1),  syy[f] (c2, c2),  sxy[f] = Xc_f^H Yc_f (c1, c2)

(complex128, Hermitian diagonal blocks; scatter, not covariance), ``Xc_f`` centred on its mean.
Under a translation-invariant dataset the (h w c)^2 covariance of the flattened activations is,
in the DFT basis, block diagonal with exactly these blocks, which is what makes the conv CCA
a union of small complex CCAs.  Batches merge with Chan, Golub & LeVeque's pairwise rule on
complex blocks: ``d = m_b - m_a``, ``S = S_a + S_b + conj(d_x) d_y^T n_a n_b / n``.

Units: as in :class:`fastcca.Moments`, each layer is held in units of a power of two,
``2**exponent_x`` / ``2**exponent_y`` (``fastcca.kernels._scale``; 0 for activations of ordinary size),
so the state never overflows or underflows: the FFT is linear, so scaling a batch by a power
of two scales its DFT exactly.

Memory: O(F (c1 + c2)^2) with F ~ h w / 2, independent of n.  Each ``update`` is split into
chunks of images so that its gathered frequency blocks stay near ``chunk_bytes``; every chunk is
centred on the batch's mean image (computed first, in one read that also rejects NaN/Inf), so
the chunks' products add up without merges, and the batch enters the state with one Chan merge.

Backends: the same code runs on the CPU (``fastcca.kernels.cpu``: pocketfft, Numba, OpenBLAS)
and on CUDA (``fastcca.kernels.cuda``: cuFFT and cuBLAS through CuPy, the primitives of
``kernels/_xp_backend.py``); the state then lives on the device (CuPy arrays) and the measures
return NumPy results.
"""
from __future__ import annotations

import numpy as np

from .. import _io
from ..kernels import _scale
from .._accumulator import PairAccumulator
from ..backend import get_backend
from ..moments import _load_exponents, feed_in_batches
from .._validation import PRECISIONS, check_choice, check_state_finite
from ._grid import FrequencyGrid, frequency_grid
from ._inputs import LAYOUTS, as_conv_batch, check_layout, check_pair

_FORMAT = "fastcca.ConvMoments/1"
#: written when an exponent is not 0 (see ``fastcca.moments._FORMAT_SCALED``)
_FORMAT_SCALED = "fastcca.ConvMoments/2"
#: default bound on one chunk's gathered frequency blocks (both layers; the transforms add a few MiB per thread)
CHUNK_BYTES = 192 << 20


class ConvMoments(PairAccumulator):
    """Per-frequency complex moments of two conv layers, accumulated batch by batch.

    Parameters
    ----------
    layout : {"nchw", "nhwc"}
        ``"nchw"`` (PyTorch, default): batches are (b, c, h, w); ``"nhwc"``: (b, h, w, c).
    backend : {"auto", "cpu", "cuda"}
        Where the moments are accumulated.  ``"auto"`` follows the first batch (CuPy arrays and
        CUDA torch tensors -> ``"cuda"``, everything else -> ``"cpu"``); ``"cuda"`` without
        CuPy or a GPU raises ``fastcca.BackendUnavailableError``.  Host batches given to a
        CUDA accumulator are copied to the device.
    chunk_bytes : int
        Bound on the gathered frequency blocks of one chunk of images inside ``update``.
    precision : {"float64", "float32"}
        Arithmetic of the FFT and of each chunk's block products.  ``"float64"`` (default):
        everything in double precision.  ``"float32"``: single-precision FFT and GEMM per chunk,
        accumulated in float64 (the state is float64/complex128 either way); about half the
        memory traffic, for float32 activations; coefficients then differ from the float64 path
        by up to ~1e-6 (9.4e-7 measured in ``asv_bench/bench_conv.py``).

    Examples
    --------
    >>> import numpy as np, fastcca
    >>> rng = np.random.default_rng(0)
    >>> m = fastcca.ConvMoments()
    >>> for _ in range(3):                 # xb: (b, c1, h1, w1), yb: (b, c2, h2, w2)
    ...     xb = rng.standard_normal((100, 4, 6, 6))
    ...     _ = m.update(xb, xb[:, :2] + rng.standard_normal((100, 2, 6, 6)))   # returns m
    >>> m.n
    300
    >>> 0 < fastcca.conv_cca(m).similarity < 1
    True

    Notes
    -----
    The spatial sizes may differ between the layers: the overlapping low frequencies are
    compared (see :mod:`fastcca.conv._grid`).  ``update`` validates the whole batch first, so
    a failing call leaves the accumulator unchanged.

    ``mean_x``, ``sxx``, ... are held in units of ``2**exponent_x`` / ``2**exponent_y`` (see the
    module docstring; the moments themselves when both are 0).
    """

    def __init__(self, layout: str = "nchw", backend: str = "auto", chunk_bytes: int = CHUNK_BYTES,
                 precision: str = "float64"):
        self.layout = check_layout(layout)
        self.precision = check_choice(precision, "precision", PRECISIONS)
        #: whether any float32 products are in the state (as :class:`fastcca.Moments`)
        self.float32_products = False
        self._backend_name = backend
        # a bad name, or "cuda" without CuPy/GPU, fails here with the dispatcher's message
        self._be = None if backend == "auto" else get_backend(backend)
        self.chunk_bytes = int(chunk_bytes)
        self.n = 0
        self.grid: FrequencyGrid | None = None
        self.shape_x = self.shape_y = None   # (c, h, w) of each layer
        self.mean_x = self.mean_y = None
        self.sxx = self.syy = self.sxy = None
        self.exponent_x = self.exponent_y = 0

    @classmethod
    def _with_backend_module(cls, be, **kwargs) -> "ConvMoments":
        """Internal: an empty ConvMoments bound to the kernels module (or ``XpBackend``) ``be``,
        not looked up by name (as :meth:`fastcca.Moments._with_backend_module`: the tests run
        the CUDA backend's array logic on NumPy stand-ins)."""
        m = cls(backend="cpu", **kwargs)
        m._backend_name, m._be = be.NAME, be
        return m

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(cls, x, y, *, layout: str = "nchw", batch_size: int | None = None,
                    progress: bool = False, backend: str = "auto",
                    precision: str = "float64") -> "ConvMoments":
        """Moments of whole arrays, optionally fed ``batch_size`` images at a time.

        Parameters
        ----------
        x, y : array-like (n, c1, h1, w1), (n, c2, h2, w2) (or NHWC)
            Arrays may be memory-mapped: only one batch is read at a time.
        layout, backend, precision
            As in :class:`ConvMoments`.
        batch_size : int, optional
            Images per batch (default: all at once, in chunks bounded by ``chunk_bytes``).
        progress : bool, default False
            A tqdm bar over the batches.

        Returns
        -------
        ConvMoments
        """
        m = cls(layout=layout, backend=backend, precision=precision)
        if batch_size is None:
            be = m._be or get_backend(backend, x, y)
            sx, sy = getattr(x, "shape", None), getattr(y, "shape", None)
            if be.device_array(x) is None and sx is not None and sy is not None and len(sx) == len(sy) == 4:
                # host arrays on a device backend: batches sized to free device memory
                per = (tuple(sx[1:]), tuple(sy[1:]))
                batch_size = be.default_conv_batch_images(*per, precision)
        return feed_in_batches(m, x, y, batch_size, progress, "conv moments", ndim=4)

    #: pickles from CPU-only versions name no backend: cpu
    _PICKLED_BACKEND_DEFAULT = "cpu"

    @staticmethod
    def _upgrade_state(state: dict) -> None:
        """Defaults for pickles of older versions (pickling itself: ``PairAccumulator``)."""
        PairAccumulator._upgrade_state(state)
        state.setdefault("exponent_x", 0)      # pickles from before the power-of-two units
        state.setdefault("exponent_y", 0)

    # ------------------------------------------------------------------ properties
    @property
    def c_x(self) -> int | None:
        """Channels of x (None while empty)."""
        return None if self.shape_x is None else self.shape_x[0]

    @property
    def c_y(self) -> int | None:
        """Channels of y (None while empty)."""
        return None if self.shape_y is None else self.shape_y[0]

    def __repr__(self) -> str:
        if self.n == 0:
            return f"ConvMoments(empty, layout={self.layout!r})"
        return (f"ConvMoments(n={self.n}, x (c,h,w)={self.shape_x}, y (c,h,w)={self.shape_y}, "
                f"{self.grid.n_classes} frequency classes, layout={self.layout!r})")

    # ------------------------------------------------------------------ streaming
    def update(self, x, y) -> "ConvMoments":
        """Add a batch: x (b, c1, h1, w1), y (b, c2, h2, w2) (or NHWC with ``layout="nhwc"``).
        Returns ``self``.

        Raises ``ValueError``/``TypeError`` for a wrong rank, empty input, complex dtype,
        mismatched image counts, channels or spatial sizes that differ from earlier batches, and
        NaN/Inf; the state is then unchanged.
        """
        be = self._be or get_backend(self._backend_name, x, y)
        same = y is x
        xa = as_conv_batch(x, "x", self.layout, be)
        ya = xa if same else as_conv_batch(y, "y", self.layout, be)
        check_pair(xa, ya)
        sx, sy = tuple(xa.shape[1:]), tuple(ya.shape[1:])
        if self.n:
            self._check_shapes(sx, sy, "update")
            grid = self.grid
        else:
            grid = frequency_grid(sx[1:], sy[1:])
        fx, fy = grid.flat_index("x"), grid.flat_index("y")
        # one read of each batch: its mean image and power-of-two units, and the NaN/Inf check;
        # the batch lands in the state's units or larger ones (the state is then rescaled)
        floor_x = (max(self.exponent_x, self.exponent_y) if same else self.exponent_x) if self.n else None
        st_x = be.spatial_stats_checked(xa, floor_x)
        if st_x is None:
            raise ValueError(f"x: the batch holds NaN or Inf (shape {tuple(xa.shape)}); "
                             "the accumulator is unchanged")
        st_y = st_x if same else be.spatial_stats_checked(ya, self.exponent_y if self.n else None)
        if st_y is None:
            raise ValueError(f"y: the batch holds NaN or Inf (shape {tuple(ya.shape)}); "
                             "the accumulator is unchanged")
        (mx_img, ex), (my_img, ey) = st_x, st_y
        fac_x, fac_y = _scale.pow2(-ex), _scale.pow2(-ey)
        # every chunk is centred on the batch mean, so the chunks' real-view products simply add
        f, cx, cy = grid.n_classes, sx[0], sy[0]
        xp = be.xp
        pxx = xp.zeros((f, 2 * cx, 2 * cx))
        pyy = pxx if same else xp.zeros((f, 2 * cy, 2 * cy))
        pxy = pxx if same else xp.zeros((f, 2 * cx, 2 * cy))
        b = xa.shape[0]
        dt = np.float32 if self.precision == "float32" else np.float64
        # the gathered blocks of a chunk ((F, step, c) complex per side) are its temporaries: the
        # transforms' own are bounded per thread by the backend; the larger the chunk, the fewer
        # (F, 2c, 2c) product accumulations (16 chunks cost 1.7-3.3x the products of one)
        per_image = 2 * np.dtype(dt).itemsize * f * (cx + (0 if same else cy))
        step = max(1, min(b, self.chunk_bytes // max(per_image, 1)))
        # one buffer per side for every chunk: a fresh one per chunk is freshly mapped memory
        # whose first touch (page faults, zeroing) cost ~10 ms per 96 MiB, about a third of the
        # chunk's transform (2026-12-04); a chunk's (F, rows, c) blocks are a C-ordered view of
        # the buffer's leading part (the real-view products need C-ordered stacks)
        cdt = np.complex64 if dt == np.float32 else np.complex128
        bx = xp.empty(f * step * cx, dtype=cdt)
        by = None if same else xp.empty(f * step * cy, dtype=cdt)
        for lo in range(0, b, step):
            rows = min(step, b - lo)
            ax = be.spatial_rfft_blocks(xa[lo:lo + rows], mx_img, fx, dt, fac_x,
                                        out=bx[:f * rows * cx].reshape(f, rows, cx))
            be.block_scatter_accumulate(ax, ax, pxx)
            if not same:
                ay = be.spatial_rfft_blocks(ya[lo:lo + rows], my_img, fy, dt, fac_y,
                                            out=by[:f * rows * cy].reshape(f, rows, cy))
                be.block_scatter_accumulate(ay, ay, pyy)
                be.block_scatter_accumulate(ax, ay, pxy)
                del ay
            del ax
        del bx, by
        sxx = be.real_view_to_complex(pxx)
        syy = sxx if same else be.real_view_to_complex(pyy)
        sxy = sxx if same else be.real_view_to_complex(pxy)
        mx = be.rfft_mean(mx_img, fx)
        my = mx if same else be.rfft_mean(my_img, fy)
        check_state_finite(xp, {"sxx": sxx, "syy": syy, "sxy": sxy}, "update", {"x": ex, "y": ey})
        # the whole batch is valid: only now does the state change
        if not self.n:
            self.grid, self.shape_x, self.shape_y = grid, sx, sy
        self._be = be
        self._merge_parts(b, mx, my, sxx, syy, sxy, ex, ey, copy=same)
        self.float32_products |= self.precision == "float32"
        return self

    def merge(self, other: "ConvMoments") -> "ConvMoments":
        """Merge the moments of other images (same layers) into ``self``; returns ``self``.
        Exact (Chan's rule per block), so shards combine in any order."""
        if not self._can_merge(other):
            return self
        if self.n:
            self._check_shapes(other.shape_x, other.shape_y, "merge")
        else:
            self.grid, self.shape_x, self.shape_y = other.grid, other.shape_x, other.shape_y
        self._be = self._be or other._be
        self._merge_parts(other.n, other.mean_x, other.mean_y, other.sxx, other.syy, other.sxy,
                          other.exponent_x, other.exponent_y, copy=True)
        self.float32_products |= other.float32_products
        return self

    def _merge_parts(self, nb, mx, my, sxx, syy, sxy, ex, ey, *, copy: bool) -> None:
        """Chan's merge per block; both parts first go to the larger exponent of each side."""
        if self.n == 0:
            self.n = int(nb)
            self.exponent_x, self.exponent_y = int(ex), int(ey)
            self.mean_x, self.mean_y = mx.copy(), my.copy()
            self.sxx = sxx.copy() if copy else sxx
            self.syy = syy.copy() if copy or syy is sxx else syy
            self.sxy = sxy.copy() if copy or sxy is sxx else sxy
            return
        mx, my, sxx, syy, sxy = _scale.align_for_merge(self, (mx, my, sxx, syy, sxy), ex, ey)
        self._chan_merge(nb, mx, my, sxx, syy, sxy, self._be.add_block_scatter_rank1)

    def _check_shapes(self, sx, sy, where: str) -> None:
        if tuple(sx) != self.shape_x or tuple(sy) != self.shape_y:
            raise ValueError(
                f"{where}: (channels, height, width) x={tuple(sx)}, y={tuple(sy)} differ from the "
                f"accumulator's x={self.shape_x}, y={self.shape_y}; the accumulator is unchanged")

    def _require_data(self) -> None:
        if self.n == 0:
            raise ValueError("moments: the ConvMoments is empty; call update(x, y) with data first")

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write the state to ``path`` (.npz, no pickle), atomically, with its power-of-two
        exponents (format ``fastcca.ConvMoments/2`` when they are not 0, so that a fastcca that
        predates them refuses the file instead of misreading it).

        Raises
        ------
        ValueError
            The accumulator is empty.
        """
        self._require_data()
        scaled = bool(self.exponent_x or self.exponent_y)
        self._save_file(path, _FORMAT_SCALED if scaled else _FORMAT, dict(
            layout=np.array(self.layout),
            exponent_x=np.array(self.exponent_x, dtype=np.int64),
            exponent_y=np.array(self.exponent_y, dtype=np.int64),
            shape_x=np.array(self.shape_x, dtype=np.int64), shape_y=np.array(self.shape_y, dtype=np.int64),
            **{k: getattr(self, k) for k in ("mean_x", "mean_y", "sxx", "syy", "sxy")}))

    @classmethod
    def load(cls, path, backend: str = "cpu") -> "ConvMoments":
        """Read moments written by :meth:`save` (``allow_pickle=False``), onto ``backend``
        (``"cpu"`` default, or ``"cuda"``).

        Every field's dtype, shape, finiteness and range is checked, as in
        :meth:`fastcca.Moments.load`; the block stacks must match the frequency grid of the saved
        layer shapes.  The power-of-two exponents load with them (absent in older files: 0, the
        data's units).

        Returns
        -------
        ConvMoments

        Raises
        ------
        fastcca.FastccaFileError
            A truncated, empty, foreign or inconsistent file; the message names the file and the
            field.
        FileNotFoundError
            No file at ``path``.
        """
        keys = ("layout", "shape_x", "shape_y", "mean_x", "mean_y", "sxx", "syy", "sxy")
        d, n, precision, f32 = cls._read_file(path, (_FORMAT, _FORMAT_SCALED), keys)
        layout = _io.field_choice(d, path, "layout", LAYOUTS)
        sx = _io.field_shape(d, path, "shape_x", 3)
        sy = _io.field_shape(d, path, "shape_y", 3)
        grid = frequency_grid(sx[1:], sy[1:])
        f = grid.n_classes
        want = {"mean_x": ((f, sx[0]), False), "mean_y": ((f, sy[0]), False), "sxx": ((f, sx[0], sx[0]), True),
                "syy": ((f, sy[0], sy[0]), True), "sxy": ((f, sx[0], sy[0]), False)}
        arrays = {k: _io.field_array(d, path, k, shp, np.complex128, scatter=sc) for k, (shp, sc) in want.items()}
        m = cls(layout=layout, precision=precision, backend="cpu" if backend == "auto" else backend)
        m.float32_products = f32
        m.n, m.grid, m.shape_x, m.shape_y = n, grid, sx, sy
        m.exponent_x, m.exponent_y = _load_exponents(path, d)   # 0 in files from before them
        for k, a in arrays.items():
            setattr(m, k, m._be.xp.asarray(a))
        return m
