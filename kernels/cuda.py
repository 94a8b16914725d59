"""CUDA backend: the primitives of ``kernels/_xp_backend.py`` bound to CuPy.

Imported only by ``fastcca.backend`` after it has checked that CuPy imports and sees a device;
importing fastcca never imports this module.  Exposes the names documented in
``kernels/cpu.py`` (``NAME``, ``xp``, ``as_matrix``, ``to_numpy``, ``center_checked``, ``center_scaled``,
``scatter``, ``add_scatter_rank1``, ``eigh``, ``eigvalsh``, ``eigh_top``, ``cholesky``,
``solve_lower``, ``svdvals``, ``svd``) plus ``default_batch_rows``, ``configure``, ``options``.

Input (``as_matrix``): CuPy arrays are used in place; CUDA torch tensors are wrapped without a
copy through DLPack (``cupy.from_dlpack``; bfloat16/float16 tensors are widened to float32 on
the device first, CuPy has no bfloat16); other objects exposing ``__cuda_array_interface__``
(Numba, JAX, ...) through ``cupy.asarray``; host arrays (NumPy, CPU tensors, lists) are validated
on the host and copied.  ``Moments.from_arrays`` asks ``default_batch_rows`` for a row count sized
to free device memory (``cupy.cuda.Device().mem_info`` plus what CuPy's pool holds free), so a
host array (a ``np.memmap`` too) larger than the GPU streams through it.  Results of the
measures come back as NumPy.

Defaults (change with ``fastcca.kernels.cuda.configure(...)`` or ``with ...options(...)``; the
environment variables are read once at import):

* ``gemm_dtype="float64"`` (``FASTCCA_CUDA_GEMM=float32`` switches): float32 products on
  float64-centred batches, float64 state.  Error measured on the CPU with NumPy/OpenBLAS (not
  on a GPU; docs/benchmarks.md, "CUDA backend"), n = 100k: 4e-8 to 9e-8 relative (Frobenius) on the
  scatter blocks, CCA coefficients within 1.4e-8, SVCCA/PWCCA similarities within 4e-9, also
  with column scales spread over 1e-4 (CCA is scale invariant; what the rounding hurts is
  near-collinear neurons: expect errors to grow with the condition number of the correlation
  matrix -- not measured).  Off by default: on FP64-capable GPUs (H100/H200) float64 GEMMs are
  fast, and the float64 default keeps the 1e-9 agreement with the CPU.
* ``use_syrk=True``: cuBLAS DSYRK for ``Sxx``/``Syy`` (half the flops of a GEMM; whether it is
  faster on a given card is measured by ``asv_bench/gpu_check.py``).
* ``svdvals_route="gram"``: canonical correlations as ``sqrt(eigvalsh(M M^T))`` of the smaller
  side instead of cuSOLVER's gesvd, falling back to the SVD when the smallest eigenvalue is below
  ``gram_floor=1e-10`` of the largest (accuracy bound ~1e-10, see ``_xp_backend``).
* ``svd_route="svd"``: singular vectors (PWCCA, ``weights=True``) by gesvd; ``"gram"`` is the
  faster eigh route, measured by ``gpu_check.py`` before it may become the default.
* ``small_eig="library"``: eigenvalues of the conv path's stacks of small Hermitian blocks by
  CuPy's batched ``eigvalsh``; ``"jacobi"`` uses the one-block-per-matrix Jacobi kernel of
  ``kernels/_jacobi.py`` (a CuPy ``RawModule``; its algorithm has a NumPy twin that CPU CI
  tests), timed against the library route by ``gpu_check.py`` before it may become the default.
* ``mem_fraction=0.5``: the share of free device memory a batch of host rows (or images) may
  take when a host array streams through the GPU.

Not verified on a GPU yet: see docs/cuda.md.
"""
from __future__ import annotations

import os

import cupy
import cupyx
from cupyx.scipy.linalg import solve_triangular as _solve_triangular

from ._jacobi import CudaJacobi
from ._xp_backend import make_backend

NAME = "cuda"
xp = cupy


def _device_view(a):
    """``a`` as a CuPy array without a host copy, or ``None`` for host data."""
    if isinstance(a, cupy.ndarray):
        return a
    mod = type(a).__module__
    if mod.startswith("torch"):
        if not getattr(a, "is_cuda", False):
            return None
        t = a.detach()
        if t.dtype.is_floating_point and t.element_size() < 4:
            t = t.float()  # CuPy has no bfloat16; float16 is widened as on the host path
        try:
            return cupy.from_dlpack(t)
        except (TypeError, ValueError, RuntimeError, BufferError):
            # e.g. a layout DLPack cannot describe: one device copy, never a host one
            return cupy.from_dlpack(t.contiguous())
    if hasattr(a, "__cuda_array_interface__"):
        return cupy.asarray(a)
    return None


def _syrk_upper(a):
    """``a.T @ a`` for a C-ordered (n, p) batch, upper triangle written (the rest untouched).

    The output is passed C-ordered on purpose: with CuPy's default F-ordered output,
    ``cupy.cublas.syrk`` first copies a C-ordered ``a`` to F order (a whole extra batch);
    with a C-ordered output it calls cuBLAS on ``a`` in place (``beta=0``: ``out`` is not read).
    """
    p = a.shape[1]
    out = cupy.empty((p, p), dtype=a.dtype, order="C")
    return cupy.cublas.syrk("T", a, out=out)


def _mem_info():
    free, total = cupy.cuda.Device().mem_info
    return free + cupy.get_default_memory_pool().free_bytes(), total


_impl = make_backend(
    cupy, _solve_triangular, NAME,
    device_view=_device_view, to_host=cupy.asnumpy, syrk_upper=_syrk_upper,
    errstate=lambda: cupyx.errstate(linalg="raise"), mem_info=_mem_info,
    jacobi=lambda a, _k=CudaJacobi(cupy): _k(a)[0],
    gemm_dtype=os.environ.get("FASTCCA_CUDA_GEMM", "float64"),
    svdvals_route="gram", svd_route="svd")

as_matrix = _impl.as_matrix
to_numpy = _impl.to_numpy
is_device_array = _impl.is_device_array
center_checked = _impl.center_checked
center_scaled = _impl.center_scaled
scatter = _impl.scatter
add_scatter_rank1 = _impl.add_scatter_rank1
default_batch_rows = _impl.default_batch_rows
eigh = _impl.eigh
eigvalsh = _impl.eigvalsh
eigh_top = _impl.eigh_top
cholesky = _impl.cholesky
solve_lower = _impl.solve_lower
svdvals = _impl.svdvals
svd = _impl.svd
configure = _impl.configure
options = _impl.options
# stacks of small blocks and conv layers (fastcca.conv; the same algorithms as the CPU backend)
cholesky_batched = _impl.cholesky_batched
inv_lower_batched = _impl.inv_lower_batched
block_matmul = _impl.block_matmul
device_array = _impl.device_array
spatial_stats_checked = _impl.spatial_stats_checked
spatial_rfft_blocks = _impl.spatial_rfft_blocks
rfft_mean = _impl.rfft_mean
block_scatter_accumulate = _impl.block_scatter_accumulate
real_view_to_complex = _impl.real_view_to_complex
add_block_scatter_rank1 = _impl.add_block_scatter_rank1
default_conv_batch_images = _impl.default_conv_batch_images


def device_name(index: int = 0) -> str:
    """The CUDA device's name (for benchmark records)."""
    name = cupy.cuda.runtime.getDeviceProperties(index)["name"]
    return name.decode() if isinstance(name, bytes) else str(name)
