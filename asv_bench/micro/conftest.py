import pytest

pytest.importorskip("pytest_benchmark", reason="the micro-benchmarks need pytest-benchmark")


def pytest_configure(config):
    # BLAS and Numba threads as in the asv suite (FASTCCA_BENCH_THREADS, default 2)
    import os

    import numba
    from threadpoolctl import threadpool_limits
    n = int(os.environ.get("FASTCCA_BENCH_THREADS", "2"))
    threadpool_limits(n)
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
