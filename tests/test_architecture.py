"""What issue 21 put in one place stays in one place, and does what each of its former copies did:
the conv reshape (conv_moments and fastcca.torch), the SVCCA keep rule (dense and conv fft), the
precision list, the atomic write (the library and paper_repro)."""
import os
import pathlib

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fastcca
from fastcca.conv._inputs import MODES, conv_rows
from fastcca.measures.svcca import count_to_keep


def test_conv_rows_numpy_and_torch_agree():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((3, 4, 5, 2))
    t = torch.from_numpy(a)
    for mode in ("fold", "flatten"):
        np.testing.assert_array_equal(conv_rows(t, mode).numpy(), conv_rows(a, mode))
    # the spatial mean: torch and NumPy sum in their own orders
    np.testing.assert_allclose(conv_rows(t, "mean").numpy(), a.mean(axis=(2, 3)), rtol=1e-14, atol=1e-15)
    # fold: the rows of one image are its positions, channels are the columns
    np.testing.assert_array_equal(conv_rows(a, "fold")[:10], a[0].reshape(4, -1).T)
    import fastcca.torch as ft
    assert ft.CONV_MODES is MODES is fastcca.conv.MODES


def test_conv_rows_refuses_fft():
    with pytest.raises(ValueError, match="mode"):
        conv_rows(np.zeros((2, 3, 4, 4)), "fft")


@settings(max_examples=40, deadline=None)
@given(vals=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12), reps=st.data(),
       keep=st.one_of(st.floats(0.01, 1.0), st.integers(1, 30)))
def test_weighted_keep_rule_is_the_rule_on_the_repeated_values(vals, reps, keep):
    """Weights stand for copies: the weighted count keeps whole classes, the fewest whose copies
    cover what the plain rule keeps of the values repeated."""
    v = np.sort(np.asarray(vals))[::-1]
    w = np.asarray(reps.draw(st.lists(st.integers(1, 2), min_size=len(v), max_size=len(v))))
    rep = np.repeat(v, w)
    if isinstance(keep, float) and keep < 1.0 and rep.sum() > 0:
        # a fraction within rounding of a partial share is decided by the summation order
        # (pairs summed as 2v, or v + v), not by the rule; 1.0 is exact (the last partial sum)
        assume(np.all(np.abs(np.cumsum(rep) / rep.sum() - keep) > 1e-12))
    k = count_to_keep(v, keep, w.astype(np.float64))
    k_rep = count_to_keep(rep, keep)
    copies = np.concatenate([[0], np.cumsum(w)])
    if k_rep == 0:
        assert k == 0
    else:
        assert copies[k] >= k_rep and copies[k - 1] < k_rep


def test_keep_everything_keeps_no_zero_values():
    """keep=1.0 keeps the positive values and none of the zeros after them, whatever the
    rounding of the sum (hypothesis found 9, 9, 9, 3, c, c, 0, 0 keeping all 8)."""
    c = 2.0235750512462496
    v = np.array([9.0, 9.0, 9.0, 3.0, c, c, 0.0, 0.0])
    assert count_to_keep(v, 1.0) == 6
    assert count_to_keep(np.array([9.0, 9.0, 3.0, c, 0.0, 0.0]), 1.0, np.array([1.0, 2.0, 1.0, 2.0, 1.0, 1.0])) == 4
    assert count_to_keep(np.zeros(3), 1.0) == 0
    assert count_to_keep(np.zeros(0), 0.5) == 0


def test_one_precision_list():
    from fastcca.conv import moments as conv_moments
    assert fastcca.Moments.PRECISIONS is fastcca.JointMoments.PRECISIONS is conv_moments.PRECISIONS


def test_write_atomic(tmp_path):
    from fastcca.io import write_atomic
    target = tmp_path / "fig.png"
    seen = []
    write_atomic(target, lambda tmp: (seen.append(tmp), pathlib.Path(tmp).write_bytes(b"one")))
    assert target.read_bytes() == b"one" and seen[0].endswith(".png")      # a writer may go by suffix

    def fail(tmp):
        pathlib.Path(tmp).write_bytes(b"half")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, fail)
    assert target.read_bytes() == b"one" and os.listdir(tmp_path) == ["fig.png"]


def test_every_backend_satisfies_the_backend_protocol():
    """The kernels modules and the array-module backend (the CUDA code path, here over NumPy
    stand-ins) provide every primitive of fastcca.backend.Backend; the CPU's extra routes are
    named capabilities, absent (None) elsewhere."""
    import xp_standin
    from fastcca.backend import CAPABILITIES, Backend, capability, get_backend
    cpu = get_backend("cpu")
    standin = xp_standin.strict_backend()
    assert isinstance(cpu, Backend) and isinstance(standin, Backend)
    assert all(capability(cpu, name) is not None for name in CAPABILITIES)
    assert capability(standin, "scatter_update_upper") is None and capability(standin, "run_pair") is None
    with pytest.raises(KeyError, match="not a backend capability"):
        capability(cpu, "eigh")



def test_cpu_backend_is_the_array_backend_on_numpy():
    """The CPU backend is the array-module backend (the code CuPy runs) over NumPy: every
    module-level primitive is its object's, and what it writes itself is only the fused,
    in-place, block-thread and transform paths; the generic primitives give what the strict
    NumPy stand-in of the CUDA path gives, bitwise."""
    import inspect

    import xp_standin
    from fastcca.backend import Backend
    from fastcca.kernels import cpu
    from fastcca.kernels._xp_backend import XpBackend
    assert isinstance(cpu._impl, XpBackend) and isinstance(cpu._impl, Backend)
    own = {n for n, v in vars(cpu.CpuBackend).items() if callable(v) or isinstance(v, staticmethod)}
    own -= {"__init__"}
    assert own == {"center_checked", "center_scaled", "add_scatter_rank1", "eigh_top", "real_view_to_complex",
                   "spatial_stats_checked", "spatial_rfft_blocks", "block_scatter_accumulate", "column_stats",
                   "scatter_update_upper", "scatter_update_upper_f32", "symmetrize_upper", "batched_region",
                   "run_pair", "eigh", "eigvalsh", "svdvals", "cholesky_batched", "inv_lower_batched",
                   "block_matmul"}
    for name in [n for n, _ in inspect.getmembers(Backend) if not n.startswith("_")] + ["cholesky", "svd"]:
        mod, obj = getattr(cpu, name), getattr(cpu._impl, name)
        assert mod == obj or mod is obj, name       # bound methods compare equal, functions are identical
    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 6))
    s = a.T @ a
    standin = xp_standin.strict_backend()
    for name, args in [("scatter", (a, a[:, ::-1].copy())), ("svd", (a,)), ("cholesky", (s,)), ("eigh", (s,)),
                       ("svdvals", (np.stack([a, 2 * a]),))]:
        got, want = getattr(cpu, name)(*args), getattr(standin, name)(*(standin.xp.asarray(v) for v in args))
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            np.testing.assert_array_equal(g, standin.to_numpy(w))
    assert cpu.cholesky(-s) is None and cpu.device_array(a) is None and cpu.default_batch_rows(a, a) is None

def test_gemm_dtype_follows_the_array_backend_option():
    import xp_standin
    from fastcca.backend import gemm_dtype, get_backend
    be = xp_standin.strict_backend()
    assert gemm_dtype(get_backend("cpu")) == "float64" and gemm_dtype(be) == "float64"
    with be.options(gemm_dtype="float32"):
        assert gemm_dtype(be) == "float32"


@pytest.mark.parametrize("measure", ["cca", "svcca", "pwcca", "linear_cka"])
def test_a_measure_call_resolves_the_backend_from_the_data_once(measure, monkeypatch):
    """The data-following lookup (``backend="auto"`` with the arrays) runs once per call; the
    Moments it fills is bound to that backend, so no batch looks it up again."""
    import sys

    import fastcca
    import fastcca.backend as dispatch
    real, seen = dispatch.get_backend, []

    def spy(backend="auto", *arrays):
        seen.append((backend, len(arrays)))
        return real(backend, *arrays)
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("fastcca") and getattr(mod, "get_backend", None) is real:
            monkeypatch.setattr(mod, "get_backend", spy)
    x = np.random.default_rng(0).standard_normal((80, 5))
    getattr(fastcca, measure)(x, x[:, ::-1] + 0.1 * x)
    assert [s for s in seen if s[1] > 0] == [("auto", 2)]
    assert len(seen) <= 2        # plus the empty Moments' own name check
