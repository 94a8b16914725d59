import pytest

pytest.importorskip("pytest_benchmark", reason="the micro-benchmarks need pytest-benchmark")


def pytest_configure(config):
    # BLAS threads as in the asv suite (FASTCCA_BENCH_THREADS, default 2); Numba's kernels are serial
    import os

    from threadpoolctl import threadpool_limits
    n = int(os.environ.get("FASTCCA_BENCH_THREADS", "2"))
    threadpool_limits(n)
