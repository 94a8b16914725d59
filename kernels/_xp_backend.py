"""The backend primitives written once against an array module ``xp`` (CuPy on a GPU; NumPy, or
the strict stand-in of ``tests/xp_standin.py``, on the CPU so that CI runs this code).

``make_backend(xp, solve_triangular, name, ...)`` returns an :class:`XpBackend`: an object with
the same names as the ``kernels/cpu.py`` module (see its docstring: ``NAME``, ``xp``,
``as_matrix``, ``to_numpy``, ``center_checked``, ``scatter``, ``add_scatter_rank1``, ``eigh``,
``eigvalsh``, ``eigh_top``, ``cholesky``, ``solve_lower``, ``svdvals``, ``svd``) plus
``default_batch_rows(x, y)``, the row count ``Moments.from_arrays`` streams host input in.
``kernels/cuda.py`` binds it to CuPy; every measure then runs on it unchanged.

What is device-specific is passed in, so the logic here is the same on every array module:

``solve_triangular(a, b, lower=, trans=)``  SciPy's signature (``cupyx.scipy.linalg`` on CUDA)
``device_view(a)``        ``a`` as an ``xp`` array without a host copy, or ``None`` if ``a`` lives
                          on the host (CuPy: CuPy arrays, CUDA torch tensors via DLPack, objects
                          with ``__cuda_array_interface__``)
``to_host(a)``            device -> NumPy copy (``cupy.asnumpy``)
``syrk_upper(a)``         ``a.T @ a`` with only the upper triangle written (cuBLAS SYRK); the
                          lower triangle is mirrored here.  ``None``: a GEMM is used
``errstate()``            context manager under which a failed factorisation raises
                          ``LinAlgError`` (CuPy: ``cupyx.errstate(linalg="raise")``; by default
                          CuPy does not check cuSOLVER's ``info`` and returns garbage)
``mem_info()``            ``(free, total)`` bytes of device memory, for streaming host arrays

Options (``XpBackend.configure``; ``kernels/cuda.py`` sets its defaults and documents them):

``gemm_dtype``  "float64" (default) or "float32": the per-batch scatter product in float32 on
                float64-centred data, accumulated into float64 state (error: docs/benchmarks.md).
``use_syrk``    use ``syrk_upper`` for the symmetric blocks when available.
``svdvals_route`` "svd" (the SVD's values) or "gram": ``sqrt(eigvalsh(A A^T))`` of the smaller
                Gram matrix, much cheaper than an SVD on cuSOLVER.  It squares the condition
                number: a singular value ``s`` gets an absolute error ~ ``eps * s_max^2 / (2 s)``,
                so when the smallest eigenvalue is below ``gram_floor * lambda_max`` (default
                1e-10: error ~1e-10 at worst) it falls back to the SVD.
``small_eig``   "library" (default: ``xp.linalg.eigvalsh``, cuSOLVER's batched solver on CuPy) or
                "jacobi": the batched Hermitian Jacobi eigenvalue kernel of ``kernels/_jacobi.py``
                (its NumPy twin on array modules without the kernel), for the eigenvalues of the
                many small Gram matrices of the conv path's Gram route.  Unmeasured on a GPU:
                ``asv_bench/gpu_check.py`` times both.
``svd_route``   "svd" (cuSOLVER gesvd) or "gram" (eigh of the smaller Gram matrix; the other side's
                vectors by one product; same floor and fallback).  Singular vectors are unique up
                to sign (and within clusters); results that depend on signs (PWCCA
                ``variant="reference"``) may differ between routes.

Next steps on the GPU (not done, see docs/cuda.md): ``eigh_top`` is a full ``eigh``
here (cuSOLVER ``syevdx`` computes a subset); many small Hermitian blocks (conv path) go through
CuPy's batched ``eigh``/``svd``, which the issue measured at 2.0 s for 144 blocks of 256: the
Cholesky + ``eigvalsh(M M^H)`` route through batched cuSOLVER (``potrfBatched``, ``syevjBatched``)
measured 0.26 s, and a custom batched small-Hermitian kernel is the way to the 30x target.
"""
from __future__ import annotations

import contextlib

import numpy as np

from . import _scale
from . import _batched, _jacobi
from ._arrays import as_host_matrix, check_real_matrix

_ROUTES = ("svd", "gram")


def _nullcontext():
    return contextlib.nullcontext()


class XpBackend:
    """Backend primitives on the array module ``xp``; see the module docstring."""

    def __init__(self, xp, solve_triangular, name: str, *, device_view=None, to_host=None,
                 syrk_upper=None, errstate=None, mem_info=None, jacobi=None, **options):
        self.NAME = name
        self.xp = xp
        self._solve_triangular = solve_triangular
        self._device_view = device_view or self._default_device_view
        self._to_host = to_host or np.asarray
        self._syrk_upper = syrk_upper
        self._errstate = errstate or _nullcontext
        self._mem_info = mem_info
        #: batched Hermitian eigenvalues by Jacobi (ascending): the CUDA kernel, or the twin
        self._jacobi = jacobi or (lambda a: _jacobi.eigvalsh_twin(a, xp=self.xp)[0])
        self.small_eig = "library"
        self.gemm_dtype = "float64"
        self.use_syrk = True
        self.svdvals_route = "svd"
        self.svd_route = "svd"
        self.gram_floor = 1e-10
        #: fraction of free device memory a streamed batch may use (the rest: allocator slack,
        #: cuBLAS/cuSOLVER workspaces)
        self.mem_fraction = 0.5
        self.configure(**options)

    def __repr__(self) -> str:
        return f"<fastcca backend {self.NAME!r} on {getattr(self.xp, '__name__', self.xp)!r}>"

    # ------------------------------------------------------------------ options
    def configure(self, **options) -> dict:
        """Set options (see module docstring); returns the previous values of those set."""
        old = {}
        for k, v in options.items():
            if k not in ("gemm_dtype", "use_syrk", "svdvals_route", "svd_route", "gram_floor", "mem_fraction",
                         "small_eig"):
                raise TypeError(f"configure: unknown option {k!r}")
            if k == "small_eig" and v not in ("library", "jacobi"):
                raise ValueError(f"small_eig: expected 'library' or 'jacobi', got {v!r}")
            if k == "gemm_dtype" and v not in ("float64", "float32"):
                raise ValueError(f"gemm_dtype: expected 'float64' or 'float32', got {v!r}")
            if k in ("svdvals_route", "svd_route") and v not in _ROUTES:
                raise ValueError(f"{k}: expected one of {_ROUTES}, got {v!r}")
            if k in ("gram_floor", "mem_fraction") and not 0 <= float(v) <= 1:
                raise ValueError(f"{k}: expected a number in [0, 1], got {v!r}")
            old[k] = getattr(self, k)
            setattr(self, k, v)
        return old

    @contextlib.contextmanager
    def options(self, **options):
        """Temporarily set options: ``with be.options(svd_route="gram"): ...``."""
        old = self.configure(**options)
        try:
            yield self
        finally:
            self.configure(**old)

    # ------------------------------------------------------------------ data in and out
    def _default_device_view(self, a):
        return a if isinstance(a, self.xp.ndarray) else None

    def is_device_array(self, a) -> bool:
        """Whether ``a`` is already on this backend's device (no host copy needed)."""
        return self._device_view(a) is not None

    def as_matrix(self, a, name: str):
        """``a`` as a validated 2-D real float32/float64 ``xp`` array.

        Device arrays (CuPy, CUDA torch tensors) are used in place (a dtype cast, if any, happens
        on the device); host arrays (NumPy, lists, CPU tensors) are validated and normalised by
        ``as_host_matrix`` and copied to the device.  Errors read as on the CPU backend.
        """
        arr = self._device_view(a)
        if arr is None:
            return self.xp.asarray(as_host_matrix(a, name))
        return self._check_device_matrix(arr, name)

    def _check_device_matrix(self, arr, name: str):
        # the checks of kernels._arrays.as_host_matrix, on the array's metadata only
        target = check_real_matrix(arr, name)
        if target is not None:
            arr = arr.astype(target)
        return arr

    def to_numpy(self, a):
        """Host NumPy copy of a device array (NumPy input passes through)."""
        if isinstance(a, np.ndarray):
            return a
        return self._to_host(a)

    # ------------------------------------------------------------------ moments
    def center_checked(self, x, out_dtype=None):
        """``(centred float64 copy, column means)`` of an (n, p) device batch, or ``None`` if it
        holds NaN/Inf.  One float64 copy, centred in place; the full finiteness scan runs only
        when a column mean is not finite (NaN/Inf anywhere makes its column's sum non-finite;
        a finite column whose sum overflows is scanned and accepted).  ``out_dtype`` (e.g.
        float32 for ``precision="float32"``): the centred copy is cast to it at the end."""
        xp = self.xp
        xc = x.astype(xp.float64, order="C", copy=True)
        mean = xc.mean(axis=0)
        if not bool(xp.isfinite(mean).all()) and not bool(xp.isfinite(xc).all()):
            return None
        xc -= mean
        if out_dtype is not None and xp.dtype(out_dtype) != xp.float64:
            xc = xc.astype(out_dtype)
        return xc, mean

    def center_scaled(self, x, out_dtype=None, min_exponent=None):
        """:func:`fastcca.kernels.cpu.center_scaled` on the device: ``Centered(xc, mean,
        exponent, lo, hi)`` (device arrays; ``xc = (x - mean) * 2**-exponent``), or ``None`` if
        the batch holds NaN/Inf.  One float64 copy, scaled and centred in place; the column
        minima/maxima (two reductions) give the finiteness test (NaN propagates through them)
        and, copied to the host ((p,) each), the exponent."""
        xp = self.xp
        xc = x.astype(xp.float64, order="C", copy=True)
        lo, hi = xc.min(axis=0), xc.max(axis=0)
        if not (bool(xp.isfinite(lo).all()) and bool(xp.isfinite(hi).all())):
            return None
        e = _scale.batch_exponent(self.to_numpy(lo), self.to_numpy(hi), min_exponent)
        factor = _scale.pow2(-e)
        if e and max(float(xp.abs(lo).max()), float(xp.abs(hi).max())) >= _scale.HUGE:
            xc *= factor           # the sums of such values would overflow: scale first
            mean = xc.mean(axis=0)
            xc -= mean
        else:
            mean = xc.mean(axis=0)
            xc -= mean
            if e:
                xc *= factor
                mean = mean * factor
        if out_dtype is not None and xp.dtype(out_dtype) != xp.float64:
            xc = xc.astype(out_dtype)
        return _scale.Centered(xc, mean, e, lo, hi)

    def scatter(self, a, b):
        """``a.T @ b`` in float64 (SYRK when ``a is b``); float32 products when configured."""
        xp = self.xp
        same = a is b
        if self.gemm_dtype == "float32":
            a = a.astype(xp.float32)
            b = a if same else b.astype(xp.float32)
        if same and self.use_syrk and self._syrk_upper is not None:
            out = self._symmetric_from_upper(self._syrk_upper(a))
        else:
            out = a.T @ b
        return out if out.dtype == xp.float64 else out.astype(xp.float64)

    def _symmetric_from_upper(self, u):
        xp = self.xp
        return xp.ascontiguousarray(xp.triu(u) + xp.triu(u, 1).T)

    def add_scatter_rank1(self, s, b, u, v, c: float) -> None:
        """In place ``s += b + c * outer(u, v)`` (Chan's merge); O(p q), never the bottleneck."""
        s += b
        s += c * self.xp.outer(u, v)

    def default_batch_rows(self, x, y):
        """Rows per batch for ``Moments.from_arrays(x, y)`` when no ``batch_size`` is given:
        ``None`` (one batch) when everything fits in ``mem_fraction`` of the free device memory,
        else the largest row count that does, so a host array larger than the device streams
        through it.  Per row: the host->device copy of a host batch, the float64 centred copies
        (and float32 copies in float32 GEMM mode); reserved: three times the float64 state
        (state, the batch's blocks, SYRK temporaries)."""
        if self._mem_info is None:
            return None
        sx, sy = getattr(x, "shape", None), getattr(y, "shape", None)
        if sx is None or sy is None or len(sx) != 2 or len(sy) != 2:
            return None  # lists etc.: as_matrix reports the problem
        n, p = int(sx[0]), int(sx[1])
        q = int(sy[1])
        same = y is x
        cols = p if same else p + q
        per_row = 8 * cols + (4 * cols if self.gemm_dtype == "float32" else 0)
        for a, k in ((x, p),) if same else ((x, p), (y, q)):
            if not self.is_device_array(a):
                per_row += k * _host_transfer_itemsize(a)
        reserve = 3 * 8 * (p * p + q * q + p * q)
        free = int(self._mem_info()[0])
        budget = int(self.mem_fraction * free) - reserve
        if budget < per_row:
            raise MemoryError(
                f"backend {self.NAME!r}: the float64 moments of p={p}, q={q} neurons need about "
                f"{reserve / 2**30:.2f} GiB of device memory with temporaries, and only "
                f"{free / 2**30:.2f} GiB are free; use backend='cpu' or fewer neurons")
        rows = budget // per_row
        return None if rows >= n else int(rows)

    # ------------------------------------------------------------------ decompositions
    def eigh(self, a):
        return self.xp.linalg.eigh(a)

    def eigvalsh(self, a):
        return self.xp.linalg.eigvalsh(a)

    def eigh_top(self, a, k: int):
        """Top-``k`` eigenpairs, descending.  A full ``eigh`` here (no subset solver in CuPy;
        cuSOLVER ``syevdx`` is the next step)."""
        xp = self.xp
        p = a.shape[-1]
        k = int(min(max(k, 0), p))
        if k == 0:
            return xp.zeros(0), xp.zeros((p, 0))
        w, v = xp.linalg.eigh(a)
        return xp.ascontiguousarray(w[::-1][:k]), xp.ascontiguousarray(v[:, ::-1][:, :k])

    def cholesky(self, a):
        """Lower Cholesky factor, or ``None`` when ``a`` is not positive definite -- whether
        the library raises (NumPy; CuPy under ``errstate``) or returns NaN."""
        xp = self.xp
        try:
            with self._errstate():
                l = xp.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            return None
        d = xp.diagonal(l, axis1=l.ndim - 2, axis2=l.ndim - 1)
        if not bool(xp.isfinite(l).all()) or not bool((d > 0).all()):
            return None
        return l

    def solve_lower(self, l, b, trans: bool = False):
        return self._solve_triangular(l, b, lower=True, trans="C" if trans else "N")

    def _gram_eigh(self, a, vectors: bool):
        """eigh of the smaller Gram matrix of ``a`` (m1, m2), eigenvalues descending; ``None``
        when the smallest is below ``gram_floor * largest`` (the SVD is then needed)."""
        xp = self.xp
        m1, m2 = a.shape[-2], a.shape[-1]
        left = m1 <= m2
        ah = a.T.conj()
        g = a @ ah if left else ah @ a
        if vectors:
            lam, vec = xp.linalg.eigh(g)
            vec = vec[:, ::-1]
        else:
            lam, vec = xp.linalg.eigvalsh(g), None
        lam = lam[::-1]
        if lam.size:
            top = float(lam[0])
            if top > 0 and float(lam[-1]) < self.gram_floor * top:
                return None
        return left, xp.sqrt(xp.maximum(lam, 0.0)), vec

    def svdvals(self, a):
        """Singular values, descending (``svdvals_route``: the SVD's, or the Gram route; stacks
        (B, m1, m2) too)."""
        if self.svdvals_route == "gram" and a.ndim == 3 and a.shape[0] and min(a.shape[1:]):
            return self._svdvals_stack(a)
        if self.svdvals_route == "gram" and a.ndim == 2:
            out = self._gram_eigh(a, vectors=False)
            if out is not None:
                return out[1]
        return self.xp.linalg.svd(a, compute_uv=False)

    def svd(self, a):
        """Thin SVD ``(u, s, vh)``, ``s`` descending (``svd_route``: gesvd, or the Gram route)."""
        if self.svd_route == "gram" and a.ndim == 2:
            out = self._gram_eigh(a, vectors=True)
            if out is not None:
                left, s, vec = out
                if s.size == 0 or float(s[-1]) > 0:
                    if left:      # a = u s vh, u from eigh(a a^H): vh = s^-1 u^H a
                        return vec, s, (vec.T.conj() @ a) / s[:, None]
                    return (a @ vec) / s, s, vec.T.conj()
        return self.xp.linalg.svd(a, full_matrices=False)


    # ------------------------------------------------------------------ stacks of small blocks
    def cholesky_batched(self, a):
        """Lower Cholesky factors of a stack (B, k, k) and a (B,) host bool mask of the positive
        definite blocks (:func:`fastcca.kernels._batched.cholesky_stack`: one batched call --
        cuSOLVER ``potrfBatched`` on CuPy -- unless it raises)."""
        xp = self.xp

        def chol(stack):
            with self._errstate():
                return xp.linalg.cholesky(stack)
        return _batched.cholesky_stack(xp, chol, a)

    def inv_lower_batched(self, l):
        """``l^-1`` for a stack of lower-triangular blocks, by batched GEMMs
        (:func:`fastcca.kernels._batched.inv_lower`; CuPy has no batched ``trtri``)."""
        return _batched.inv_lower(self.xp, l)

    def block_matmul(self, a, b):
        """Batched ``a @ b`` (one strided-batched GEMM on CuPy)."""
        return self.xp.matmul(a, b)

    def _svdvals_stack(self, a):
        """Singular values of every block of a stack: the Gram route of
        :func:`fastcca.kernels._batched.gram_svdvals` (``svdvals_route="gram"``; batched
        ``eigvalsh`` -- cuSOLVER ``syevjBatched`` -- instead of a batched SVD), with the SVD's
        values for the blocks it rejects."""
        xp = self.xp
        solver = self._jacobi if self.small_eig == "jacobi" else None
        vals, redo = _batched.gram_svdvals(xp, a, self.gram_floor, solver)
        if redo.any():
            idx = xp.asarray(np.flatnonzero(redo))
            vals[idx] = xp.linalg.svd(a[idx], compute_uv=False)
        return vals

    # ------------------------------------------------------------------ conv layers (fastcca.conv)
    def device_array(self, a):
        """``a`` as an ``xp`` array without a host copy, or ``None`` for host data."""
        return self._device_view(a)

    def spatial_stats_checked(self, x, min_exponent=None):
        """:func:`fastcca.kernels.cpu.spatial_stats_checked` on the device: ``(mean image
        (c, h, w) float64 in units of the batch's power-of-two exponent, exponent)``, or ``None``
        when the batch (b, c, h, w) holds NaN or Inf.  The minima/maxima over the images (NaN
        propagates through them) give the finiteness test and, copied to the host ((c, h, w)
        each), the exponent."""
        xp = self.xp
        b = x.shape[0]
        lo = x.min(axis=0).astype(xp.float64)
        hi = x.max(axis=0).astype(xp.float64)
        if not (bool(xp.isfinite(lo).all()) and bool(xp.isfinite(hi).all())):
            return None
        e = _scale.batch_exponent(self.to_numpy(lo), self.to_numpy(hi), min_exponent)
        factor = _scale.pow2(-e)
        big = max(float(xp.abs(lo).max()), float(xp.abs(hi).max())) >= _scale.HUGE
        mean = None
        if not big:
            mean = x.sum(axis=0, dtype=xp.float64) / b
            big = not bool(xp.isfinite(mean).all())       # a sum overflowed
        if big:
            # sums of such values overflow: scale first (exact), then average
            return xp.ascontiguousarray((x.astype(xp.float64) * factor).mean(axis=0)), e
        return xp.ascontiguousarray(mean * factor if e else mean), e

    def spatial_rfft_blocks(self, x, mean_img, flat, dtype=np.float64, factor: float = 1.0, out=None,
                            at: int = 0):
        """:func:`fastcca.kernels.cpu.spatial_rfft_blocks` on the device: the 2-D real FFT
        (cuFFT through ``xp.fft.rfft2``) of ``x * factor - mean_img`` (b, c, h, w), gathered
        frequency-major at ``flat``: (F, b, c) complex128 (complex64 for ``dtype`` float32), or
        written to ``out[:, at:at + b]``."""
        xp = self.xp
        b, c = x.shape[:2]
        dt = xp.float32 if np.dtype(dtype) == np.float32 else xp.float64
        if factor != 1.0:
            x = x * factor                     # before any cast: float32 could not hold x itself
        xc = x.astype(dt) - mean_img.astype(dt)
        z = xp.fft.rfft2(xc, axes=(2, 3))
        cdt = xp.complex64 if dt == xp.float32 else xp.complex128
        blocks = z.reshape(b, c, -1)[:, :, xp.asarray(flat)].transpose(2, 0, 1)
        if out is None:
            return xp.ascontiguousarray(blocks.astype(cdt))
        out[:, at:at + b] = blocks
        return out

    def rfft_mean(self, mean_img, flat):
        """DFT of a mean image (c, h, w) at ``flat``: (F, c) complex128."""
        xp = self.xp
        c = mean_img.shape[0]
        z = xp.fft.rfft2(mean_img.astype(xp.float64), axes=(1, 2)).reshape(c, -1)
        return xp.ascontiguousarray(z[:, xp.asarray(flat)].T.astype(xp.complex128))

    def block_scatter_accumulate(self, a, b, out) -> None:
        """In place ``out += Ra^T Rb`` (F, 2ca, 2cb) float64: one batched real GEMM of the
        blocks' real views (:func:`fastcca.kernels._batched.real_view_product`)."""
        out += _batched.real_view_product(self.xp, a, b)

    def real_view_to_complex(self, p):
        return _batched.real_view_to_complex(self.xp, p)

    def add_block_scatter_rank1(self, s, b, u, v, c: float) -> None:
        _batched.add_rank1(self.xp, s, b, u, v, c)

    def default_conv_batch_images(self, shape_x, shape_y, precision: str):
        """Images per batch for ``ConvMoments.from_arrays`` on host arrays without
        ``batch_size``: ``None`` (one batch) when the upload and its transforms fit in
        ``mem_fraction`` of the free device memory, else the largest count that does.  Per image:
        the uploaded (c, h, w) of both layers (as float32/float64), their centred copies and
        ``rfft2`` outputs and the gathered blocks (~44 bytes per float64 value)."""
        if self._mem_info is None:
            return None
        per = 44 if precision == "float64" else 22
        per_image = per * (int(np.prod(shape_x)) + int(np.prod(shape_y)))
        free = int(self._mem_info()[0])
        return max(1, int(self.mem_fraction * free) // max(per_image, 1))

def _host_transfer_itemsize(a) -> int:
    """Bytes per element a host array occupies once ``as_host_matrix`` has normalised it
    (float32 for float32/float16/bfloat16, float64 otherwise); NumPy or torch dtypes."""
    dt = getattr(a, "dtype", np.float64)
    try:
        dt = np.dtype(dt)
    except TypeError:   # a torch dtype
        return 4 if getattr(dt, "is_floating_point", False) and getattr(dt, "itemsize", 8) <= 4 else 8
    small_float = dt.kind == "f" and dt.itemsize <= 4 or dt.name == "bfloat16"
    return 4 if small_float else 8


def make_backend(xp, solve_triangular, name: str, **kwargs) -> XpBackend:
    """The backend primitives on array module ``xp``; see :class:`XpBackend`."""
    return XpBackend(xp, solve_triangular, name, **kwargs)
