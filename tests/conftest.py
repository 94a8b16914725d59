import os
from pathlib import Path

import numpy as np
import pytest

PARITY_DIR = Path(os.environ.get("FASTCCA_PARITY_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "parity"))


def make_pair(n, p, q, seed=0, noise=0.3):
    """Correlated activations: y is a random linear map of x plus noise, x has a decaying spectrum."""
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(p) / max(p / 4, 1)) + 0.05
    x = rng.standard_normal((n, p)) * decay @ np.linalg.qr(rng.standard_normal((p, p)))[0]
    y = x @ rng.standard_normal((p, q)) / np.sqrt(p) + noise * rng.standard_normal((n, q))
    return x, y


@pytest.fixture
def pair():
    return make_pair(500, 12, 9)


def parity_case(i):
    path = PARITY_DIR / f"case_{i}.npz"
    if not path.exists():
        pytest.skip(f"parity fixtures not found at {PARITY_DIR} (set FASTCCA_PARITY_DIR)")
    return dict(np.load(path, allow_pickle=False))


# ---------------------------------------------------------------------------------------------
# FASTCCA_TEST_BACKEND=cuda | strict-standin | numpy-standin runs the whole suite with
# backend="auto" resolving host arrays to that backend (default: cpu, nothing changes).
# "cuda" is the GPU check (asv_bench/gpu_check.py); the stand-ins run the CUDA backend's array
# logic on the CPU (tests/xp_standin.py).  Tests that inspect the CPU state or the CPU default
# directly are skipped then (listed below with the reason).
TEST_BACKEND = os.environ.get("FASTCCA_TEST_BACKEND", "cpu")
_CPU_ONLY = {
    "test_measures.py::test_svcca_truncated_solver_matches_full":
        "compares kernels/cpu.py's subset eigensolver on the state directly",
    "test_measures.py::test_cuda_backend_is_a_clear_error_without_a_gpu":
        "asserts that auto resolves NumPy input to cpu",
    "test_moments.py::test_one_shot_matches_definition": "reads the state as NumPy arrays",
    "test_moments.py::test_dtypes_and_orders": "reads the state dtype as NumPy",
    "test_moments.py::test_save_load_roundtrip": "compares a loaded CPU Moments with the device state array by array",
    "test_debiased_cka.py::test_files_pickles_and_copies_keep_the_statistics":
        "a pickle names its backend, and the stand-ins have no name get_backend knows",
    "test_jackknife.py::test_shards_in_merges_copies_and_pickles":
        "a pickle names its backend, and the stand-ins have no name get_backend knows",
    "test_jackknife.py::test_accumulators_of_any_kind_and_array_values": "conv layers run on the CPU backend only",
    "test_grid.py::test_float32_precision_error_is_bounded": "JointMoments' float32 products are CPU only",
    "test_float32_precision.py::test_grid_names_the_collinear_layer": "JointMoments' float32 products are CPU only",
    "test_float32_precision.py::test_joint_moments_track_merged_float32_products":
        "JointMoments' float32 products are CPU only",
    "test_float32_precision.py::test_grid_gives_one_warning_for_the_pairs_of_another_measure":
        "JointMoments' float32 products are CPU only",
    "test_joint_io.py::test_joint_moments_keep_float32_products": "JointMoments' float32 products are CPU only",
    "test_numerics.py::test_an_infinite_product_is_an_error_and_the_update_changes_nothing":
        "overflows kernels/cpu.py's products (and the strict stand-in's) by monkeypatching them",
    "test_numerics.py::test_conv_and_joint_infinite_products_change_nothing":
        "overflows kernels/cpu.py's block products by monkeypatching them",
    "test_docs_examples.py::test_docstring_examples_run":
        "the examples show what a user sees: NumPy input on the CPU backend",
}


def to_host(a):
    """A state array as NumPy: a CuPy array (real, or the strict stand-in's ``DeviceArray``, which
    tests/fake_cupy names ``cupy.ndarray``) through ``.get()``; anything else as it is.  For tests
    that read an accumulator's state, which lives on the device when FASTCCA_TEST_BACKEND is not
    cpu."""
    if a is None or isinstance(a, (np.ndarray, dict)) or np.isscalar(a):
        return a
    get = getattr(a, "get", None)
    return np.asarray(get()) if callable(get) else a


def host_backend_name() -> str:
    """The backend that ``backend="auto"`` gives host (NumPy) input in this run: "cpu", or the
    one FASTCCA_TEST_BACKEND names (its ``NAME``)."""
    import fastcca.backend as dispatch
    be = dispatch._auto_host_override
    return "cpu" if be is None else be.NAME


def load_backend() -> str:
    """The ``backend=`` of ``load`` that puts a saved state where this run's accumulators live:
    "cuda" under FASTCCA_TEST_BACKEND=cuda, else "cpu" (the stand-ins have no name ``load``
    knows)."""
    return "cuda" if host_backend_name() == "cuda" else "cpu"


def pytest_configure(config):
    if TEST_BACKEND == "cpu":
        return
    import fastcca.backend as dispatch
    if TEST_BACKEND == "cuda":
        try:
            be = dispatch.get_backend("cuda")
        except dispatch.BackendUnavailableError as exc:
            pytest.exit(f"FASTCCA_TEST_BACKEND=cuda but the CUDA backend is unavailable: {exc}", returncode=3)
    elif TEST_BACKEND in ("strict-standin", "numpy-standin"):
        import xp_standin
        be = xp_standin.strict_backend() if TEST_BACKEND == "strict-standin" else xp_standin.numpy_backend()
    else:
        pytest.exit(f"FASTCCA_TEST_BACKEND={TEST_BACKEND!r}: expected cpu, cuda, strict-standin or numpy-standin",
                    returncode=4)
    dispatch._auto_host_override = be


def pytest_report_header(config):
    return f"fastcca test backend (FASTCCA_TEST_BACKEND): {TEST_BACKEND}"


def pytest_collection_modifyitems(config, items):
    if TEST_BACKEND == "cpu":
        return
    for item in items:
        key = item.nodeid.split("/")[-1].split("[")[0]
        if key in _CPU_ONLY:
            item.add_marker(pytest.mark.skip(reason=f"FASTCCA_TEST_BACKEND={TEST_BACKEND}: {_CPU_ONLY[key]}"))
