"""Compute kernels, one module per backend (installed as ``fastcca.kernels``).

``cpu``: NumPy/SciPy (BLAS, LAPACK) plus Numba loops where fusing wins.  ``cuda``: CuPy.
Both expose the same primitives; ``fastcca.backend`` picks one.  Nothing here is public API.
"""
