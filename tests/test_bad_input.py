"""Bad input, class by class (issue 22), at every public entry point: a clear exception whose
message names the argument and what was received, accumulators left unchanged, the CLI's one
`error: ...` line, no silent numbers.  The numerical side of two classes is asserted against
the mathematics: the degenerate-CCA count against the actual coefficients (class 5), the
data-rank rule against self-comparison and redundant-widening invariance (class 6)."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, example, given, settings, strategies as st

import fastcca
from fastcca.__main__ import main
from fastcca.conv import ConvMoments
from conftest import make_pair

STATE = ("n", "mean_x", "mean_y", "sxx", "syy", "sxy")


def snapshot(acc):
    """A copy of an accumulator's state (Moments, ConvMoments; JointMoments: n, mean, scatter)."""
    keys = ("n", "mean", "scatter") if isinstance(acc, fastcca.JointMoments) else STATE
    return {k: None if getattr(acc, k) is None else host_copy(acc, getattr(acc, k)) for k in keys}


def host_copy(acc, v):
    if isinstance(v, (int, np.integer)) or acc._be is None:
        return np.array(v, copy=True)
    return np.array(acc._be.to_numpy(v), copy=True)


def assert_unchanged(acc, snap):
    for k, v in snap.items():
        now = getattr(acc, k)
        if v is None:
            assert now is None, k
        else:
            np.testing.assert_array_equal(host_copy(acc, now), v, err_msg=k)


def raises_naming(exc_type, name, received, f, *args, **kwargs):
    """``f(*args, **kwargs)`` raises ``exc_type`` whose message starts with / names ``name:``
    and contains each string of ``received`` (what was received)."""
    with pytest.raises(exc_type) as info:
        f(*args, **kwargs)
    msg = str(info.value)
    assert f"{name}:" in msg or msg.startswith(name), msg
    for r in ([received] if isinstance(received, str) else received):
        assert r in msg, (r, msg)
    return msg


@pytest.fixture
def xy():
    return make_pair(300, 6, 5, seed=3)


@pytest.fixture
def filled(xy):
    x, y = xy
    return fastcca.Moments().update(x, y)


def conv_pair(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3, 4, 4))
    return x, x[:, :2] + 0.5 * rng.standard_normal((n, 2, 4, 4))


# ============================================================== class 1: the command line
@pytest.fixture
def files(tmp_path):
    x, y = make_pair(120, 5, 4)
    out = {"a": x, "b": y, "short": y[:90], "zero_rows": np.zeros((0, 4)),
           "complex": y + 1j, "strings": np.array([["a", "b"]] * 120), "cube": np.zeros((3, 4, 5))}
    nan = y.copy()
    nan[7, 2] = np.nan
    out["nan"] = nan
    for k, v in out.items():
        np.save(tmp_path / f"{k}.npy", v)
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "garbage.npy").write_bytes(b"not a numpy file at all")
    with open(tmp_path / "archive.npy", "wb") as fh:   # an .npz archive under a .npy name
        np.savez(fh, a=x)
    return tmp_path


CLI_CASES = [  # (second file, extra args, exit status, what the one line must say)
    ("short", [], 1, ["same datapoints", "120 vs 90"]),
    ("nan", [], 1, ["nan.npy", "NaN or Inf", "datapoint 7, neuron 2"]),
    ("complex", [], 1, ["complex.npy", "complex", "complex128"]),
    ("strings", [], 1, ["strings.npy", "real numeric", "<U1"]),
    ("zero_rows", [], 1, ["zero_rows.npy", "empty input", "(0, 4)"]),
    ("empty", [], 1, ["empty.npy", "empty or truncated"]),
    ("garbage", [], 1, ["garbage.npy", "not a plain .npy array"]),
    ("archive", [], 1, ["archive.npy", "archive (.npz)"]),
    ("cube", [], 1, ["cube.npy", "2-D", "(3, 4, 5)"]),
    ("missing", [], 1, ["missing.npy", "no such file"]),
    ("b", ["--keep", "abc"], 2, ["--keep", "'abc'"]),
    ("b", ["--keep", "0"], 2, ["--keep", "'0'"]),
    ("b", ["--keep", "1.5"], 2, ["--keep", "'1.5'"]),
    ("b", ["--eps", "-1"], 2, ["--eps", "'-1'"]),
    ("b", ["--eps", "nan"], 2, ["--eps", "'nan'"]),
    ("b", ["--measure", "energy"], 2, ["--measure", "'energy'"]),
    ("b", ["--layout", "nhwc"], 2, ["--layout", "'nhwc'"]),
]


@pytest.mark.parametrize("second, extra, status, says", CLI_CASES, ids=[f"{c[0]}{''.join(c[1])}" for c in CLI_CASES])
def test_cli_user_errors_are_one_line(files, capsys, second, extra, status, says):
    assert main(["compare", str(files / "a.npy"), str(files / f"{second}.npy"), *extra]) == status
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err.startswith("error: ") and cap.err.count("\n") == 1, cap.err
    for s in says:
        assert s in cap.err, (s, cap.err)


def test_cli_backend_unavailable_is_one_line(files, capsys):
    import fastcca.backend as dispatch
    try:
        dispatch.get_backend("cuda")
        pytest.skip("a CUDA backend is available here")
    except dispatch.BackendUnavailableError:
        pass
    assert main(["compare", str(files / "a.npy"), str(files / "b.npy"), "--backend", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: backend='cuda'") and err.count("\n") == 1


def test_cli_debug_shows_the_traceback_and_bugs_are_not_user_errors(files, capsys, monkeypatch):
    args = ["compare", str(files / "a.npy"), str(files / "short.npy")]
    with pytest.raises(Exception, match="same datapoints"):
        main(args + ["--debug"])
    capsys.readouterr()
    # an unexpected exception is a bug: its traceback, then one closing line, exit 70
    import sys      # the module (its name is shadowed by the function); the command line calls svcca via the registry
    monkeypatch.setattr(sys.modules["fastcca.measures.svcca"], "top_directions", lambda *a, **k: 1 / 0)
    assert main(["compare", str(files / "a.npy"), str(files / "b.npy")]) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err
    assert err.strip().splitlines()[-1].startswith("error: internal error in fastcca")


def test_cli_usage_error_without_command(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "compare,demo" in err


# ============================================================== class 2: argument validation
SCALAR_CASES = [  # (function, argument, bad value, exception type)
    (fastcca.cca, "eps", "abc", TypeError), (fastcca.cca, "eps", -1.0, ValueError),
    (fastcca.cca, "eps", float("nan"), ValueError), (fastcca.cca, "eps", True, TypeError),
    (fastcca.cca, "rcond", float("nan"), ValueError), (fastcca.cca, "rcond", -0.5, ValueError),
    (fastcca.cca, "rcond", 1.0, ValueError), (fastcca.cca, "rcond", "tiny", TypeError),
    (fastcca.cca, "rank_tol", 2.0, ValueError), (fastcca.cca, "rank_tol", "1e-12", TypeError),
    (fastcca.mean_cca, "eps", "abc", TypeError), (fastcca.mean_cca, "rcond", float("inf"), ValueError),
    (fastcca.svcca, "eps", "abc", TypeError), (fastcca.svcca, "rank_tol", float("nan"), ValueError),
    (fastcca.pwcca, "eps", "abc", TypeError), (fastcca.pwcca, "rank_tol", -1e-3, ValueError),
    (fastcca.shape_metric, "alpha", 1.5, ValueError), (fastcca.shape_metric, "alpha", "0", TypeError),
    (fastcca.shape_metric, "kind", "cosine", ValueError), (fastcca.shape_metric, "rank_tol", -1.0, ValueError),
    (fastcca.procrustes, "normalize", "yes", TypeError), (fastcca.pls, "n_components", 0, ValueError),
    (fastcca.linear_predictivity, "ridge", -2.0, ValueError), (fastcca.linear_predictivity, "ridge", None, TypeError),
    (fastcca.linear_predictivity, "direction", "up", ValueError), (fastcca.linear_predictivity, "score", 1, ValueError),
    (fastcca.null_baseline, "draws", 1, ValueError), (fastcca.null_baseline, "spectra", "pink", ValueError),
    (fastcca.null_baseline, "measure", "energy", ValueError),
    pytest.param(fastcca.conv_cca, "rcond", float("nan"), ValueError),
    pytest.param(fastcca.conv_svcca, "rank_tol", 5, ValueError),
]


@pytest.mark.parametrize("f, name, value, err", SCALAR_CASES,
                         ids=[f"{getattr(c, 'values', c)[0].__name__}-{getattr(c, 'values', c)[1]}" for c in SCALAR_CASES])
def test_scalar_arguments_name_themselves(xy, f, name, value, err):
    x, y = xy
    if f in (fastcca.conv_cca, fastcca.conv_svcca):
        x, y = conv_pair()
    raises_naming(err, name, repr(value), f, x, y, **{name: value})


INPUT_CASES = [  # (description, bad x, exception type, what the message must show)
    ("0-d array", np.array(1.5), ValueError, ["shape ()"]),
    ("python float", 2.5, ValueError, ["2.5"]),
    ("generator", "generator", TypeError, ["generator", "iterator"]),
    ("scipy.sparse", "sparse", TypeError, ["scipy.sparse", "csr_matrix", "(300, 6)"]),
    ("ragged list", [[1.0, 2.0], [3.0]], ValueError, ["ragged", "[[1.0, 2.0], [3.0]]"]),
    ("masked array", "masked", TypeError, ["masked", "numpy.ma.MaskedArray", "(300, 6)"]),
    ("None", None, TypeError, ["None"]),
    ("dict", {"a": 1}, TypeError, ["{'a': 1}"]),
]


def bad_input(kind, x):
    if kind == "generator":
        return (row for row in x)
    if kind == "sparse":
        return sp.csr_matrix(x)
    if kind == "masked":
        return np.ma.masked_array(x, mask=x > 1.0)
    return kind


@pytest.mark.parametrize("desc, bad, err, shows", INPUT_CASES, ids=[c[0] for c in INPUT_CASES])
@pytest.mark.parametrize("entry", ["cca", "svcca", "pwcca", "linear_cka", "from_arrays", "from_arrays_batched",
                                   "update", "shape_metric", "procrustes", "pls", "pca", "linear_predictivity",
                                   "null_baseline"])
def test_array_inputs_are_checked_before_any_work(xy, filled, entry, desc, bad, err, shows):
    x, y = xy
    bad = bad_input(bad, x)
    snap = snapshot(filled)
    f = {"cca": fastcca.cca, "svcca": fastcca.svcca, "pwcca": fastcca.pwcca, "linear_cka": fastcca.linear_cka,
         "from_arrays": fastcca.Moments.from_arrays,
         "from_arrays_batched": lambda a, b: fastcca.Moments.from_arrays(a, b, batch_size=50),
         "update": filled.update, "shape_metric": fastcca.shape_metric, "procrustes": fastcca.procrustes,
         "pls": fastcca.pls, "pca": lambda a, b: fastcca.pca(a), "linear_predictivity": fastcca.linear_predictivity,
         "null_baseline": fastcca.null_baseline}[entry]
    with pytest.raises(err) as info:
        f(bad, y)
    msg = str(info.value)
    assert msg.startswith("x:") or msg.startswith("x and y"), msg
    if not msg.startswith("x and y"):
        for s in shows:
            assert s in msg, (s, msg)
    assert_unchanged(filled, snap)


@pytest.mark.parametrize("value, err", [(float("nan"), TypeError), ("10", TypeError), (0, ValueError),
                                        (-3, ValueError), (True, TypeError), (2.0, TypeError)])
def test_batch_size(xy, value, err):
    x, y = xy
    raises_naming(err, "batch_size", repr(value), fastcca.Moments.from_arrays, x, y, batch_size=value)


@pytest.mark.parametrize("value, err", [(float("nan"), TypeError), ("10", TypeError), (0, ValueError)])
def test_batch_size_conv(value, err):
    cx, cy = conv_pair()
    raises_naming(err, "batch_size", repr(value), ConvMoments.from_arrays, cx, cy, batch_size=value)
    raises_naming(err, "batch_size", repr(value), fastcca.conv_cca, cx, cy, batch_size=value)


def test_from_arrays_rows_checked_before_batching_and_batch_errors_name_rows(xy):
    x, y = xy
    raises_naming(ValueError, "x and y", ["300 rows", "299 rows"], fastcca.Moments.from_arrays, x, y[:-1],
                  batch_size=64)
    x = x.copy()
    x[130, 2] = np.inf
    msg = raises_naming(ValueError, "x", "NaN or Inf", fastcca.Moments.from_arrays, x, y, batch_size=64)
    assert "rows 128:192 of 300" in msg


def test_dense_measures_refuse_other_accumulators(filled):
    cm = ConvMoments()
    for f in (fastcca.cca, fastcca.svcca, fastcca.pwcca, fastcca.linear_cka, fastcca.mean_cca, fastcca.shape_metric,
              fastcca.procrustes, fastcca.pls, fastcca.pca, fastcca.linear_predictivity, fastcca.null_baseline):
        raises_naming(TypeError, "x", ["ConvMoments", "conv_cca"], f, cm)
    jm = fastcca.JointMoments().update({"a": np.eye(5)[[0, 1, 2, 3, 4, 0, 1]], "b": np.ones((7, 2)).cumsum(0)})
    raises_naming(TypeError, "x", ["JointMoments", "similarity_grid"], fastcca.cca, jm)
    raises_naming(TypeError, "y", "Moments", fastcca.cca, np.ones((3, 2)), filled)


# ============================================================== class 3: threshold
@pytest.mark.parametrize("value, err", [(0, ValueError), (0.0, ValueError), (-0.5, ValueError),
                                        (float("nan"), ValueError), (1.5, ValueError), ("0.98", TypeError),
                                        (True, TypeError)])
def test_threshold_is_a_fraction(xy, value, err):
    x, y = xy
    raises_naming(err, "threshold", repr(value), fastcca.mean_cca, x, y, threshold=value)
    r = fastcca.cca(x, y)
    raises_naming(err, "threshold", repr(value), r.threshold_mean, value)


def test_threshold_one_and_small_fractions_are_the_reference_mean(xy):
    x, y = xy
    r = fastcca.cca(x, y)
    assert r.threshold_mean(1.0) == pytest.approx(r.similarity, abs=1e-15)
    # the smallest fraction keeps the leading coefficient alone
    assert r.threshold_mean(1e-9) == pytest.approx(r.coefficients[0], abs=1e-15)


# ============================================================== class 4: saved files
def corrupt_moments(good: dict, field: str, value):
    d = dict(good)
    if value is None:
        del d[field]
    else:
        d[field] = value
    return d


def moments_file_cases(good):
    sxx_nan = good["sxx"].copy()
    sxx_nan[1, 1] = np.nan
    sxx_asym = good["sxx"].copy()
    sxx_asym[0, 1] += 1.0
    return [
        ("n", np.array("300"), ["'n'", "'300'"]), ("n", np.array([300, 1]), ["'n'", "(2,)"]),
        ("n", np.array(np.nan), ["'n'", "nan"]), ("n", np.array(2.5), ["'n'", "2.5"]), ("n", np.array(0), ["'n'", "0"]),
        ("mean_x", np.array(1.0), ["'mean_x'", "shape ()"]), ("mean_x", np.zeros((6, 1)), ["'mean_x'", "(6, 1)"]),
        ("mean_x", np.array(["a"] * 6), ["'mean_x'", "<U1"]), ("mean_y", np.zeros(4), ["'syy'", "(5, 5)"]),
        ("sxx", sxx_nan, ["'sxx'", "NaN or Inf"]), ("sxx", sxx_asym, ["'sxx'", "not symmetric"]),
        ("sxy", good["sxy"].astype(np.float32), ["'sxy'", "float32"]),
        ("float32_products", np.array("False"), ["'float32_products'", "'False'"]),
        ("precision", np.array(3), ["'precision'", "3"]), ("format", np.array("other/1"), ["other/1"]),
        ("sxy", None, ["lacks sxy"]),
    ]


def test_moments_load_checks_every_field(tmp_path, filled):
    path = tmp_path / "m.npz"
    filled.save(path)
    good = dict(np.load(path))
    for field, value, says in moments_file_cases(good):
        bad = tmp_path / f"bad_{field}.npz"
        np.savez(bad, **corrupt_moments(good, field, value))
        with pytest.raises(fastcca.FastccaFileError) as info:
            fastcca.Moments.load(bad)
        msg = str(info.value)
        assert str(bad) in msg, msg
        for s in says:
            assert s in msg, (field, s, msg)
    # the good file still loads, and the optional fields may be absent (older files)
    older = tmp_path / "older.npz"
    np.savez(older, **{k: v for k, v in good.items() if k not in ("precision", "float32_products")})
    assert fastcca.Moments.load(older).n == filled.n


def test_conv_moments_load_checks_every_field(tmp_path):
    m = ConvMoments().update(*conv_pair())
    path = tmp_path / "c.npz"
    m.save(path)
    good = dict(np.load(path))
    sxx_nan = good["sxx"].copy()
    sxx_nan[0, 0, 0] = np.nan
    cases = [("n", np.array(1.5), ["'n'", "1.5"]), ("layout", np.array("nhcw"), ["'layout'", "'nhcw'"]),
             ("shape_x", np.array([3, 4]), ["'shape_x'", "(2,)"]), ("shape_x", np.array([3, 4, 0]), ["'shape_x'"]),
             ("shape_y", np.array([2.0, 4, 4]), ["'shape_y'", "float64"]),
             ("mean_x", good["mean_x"].real, ["'mean_x'", "float64"]), ("sxx", sxx_nan, ["'sxx'", "NaN"]),
             ("syy", good["syy"][:-1], ["'syy'"]), ("float32_products", np.array(1), ["'float32_products'"])]
    for field, value, says in cases:
        bad = tmp_path / f"bad_{field}.npz"
        np.savez(bad, **corrupt_moments(good, field, value))
        with pytest.raises(fastcca.FastccaFileError) as info:
            ConvMoments.load(bad)
        for s in [str(bad)] + says:
            assert s in str(info.value), (field, s, str(info.value))


@pytest.mark.parametrize("loader", [fastcca.Moments.load, ConvMoments.load])
def test_load_foreign_files_without_leaking_a_handle(tmp_path, loader):
    np.save(tmp_path / "a.npy", np.zeros((3, 2)))
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04" + bytes(60))
    cases = {"a.npy": "single .npy array", "empty.npz": "not a readable", "corrupt.npz": "not a readable"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for name, says in cases.items():
            with pytest.raises(fastcca.FastccaFileError, match=re.escape(says)) as info:
                loader(tmp_path / name)
            assert str(tmp_path / name) in str(info.value)
        import gc
        gc.collect()    # an unclosed handle would warn (an error here) when collected


# ============================================================== class 5: the degenerate count
def ridge_shift_bound(a, rank, eps=1e-10):
    """eps * max|S| / lambda_min(S) over the top `rank` eigenvalues of the centred scatter S."""
    ac = a - a.mean(axis=0)
    s = ac.T @ ac
    lam = np.linalg.eigvalsh(s)[::-1][rank - 1] if rank else np.inf
    return eps * np.abs(s).max() / lam


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(n=11, p=10, q=10, seed=0, keep_deficient=True)   # found by hypothesis: 1 - 2.9e-6
@given(n=st.integers(3, 14), p=st.integers(1, 14), q=st.integers(1, 14), seed=st.integers(0, 2**16),
       keep_deficient=st.booleans())
def test_degenerate_warning_count_equals_the_coefficients_at_one(n, p, q, seed, keep_deficient):
    """Generic data: exactly max(0, rx + ry - (n - 1)) coefficients are 1, rx = min(p, n - 1)
    the data rank (not the ridge-lifted rank); the warning states that count and the number of
    coefficients there are.  Exact CCA (eps=0) tells 1 from a chance 0.9999996 (a regression
    with one residual degree of freedom); with the reference's kept ridge directions the ridge
    moves the ones: a direction with a^T Sxx a = 1 gets 1 / sqrt((1 + eps' |a|^2)(1 + eps' |b|^2)),
    eps' = eps * max|S| (eps is relative), |a|^2 <= 1 / lambda_min over the data rank, so by
    Courant-Fischer the k-th forced coefficient is within (eps'_x / lx + eps'_y / ly) / 2 of 1.
    Near-square data (n - 1 = p) has a small lambda_min, and then that is far above 1e-7: the
    count of coefficients that close to 1 is at least the stated one."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, p)), rng.standard_normal((n, q))
    rx, ry = min(p, n - 1), min(q, n - 1)
    forced = max(0, min(rx + ry - (n - 1), rx, ry))
    kw = dict(rank_tol=None) if keep_deficient else dict(eps=0.0)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        r = fastcca.cca(x, y, **kw)
    msgs = [str(w.message) for w in seen if issubclass(w.category, fastcca.DegenerateCCAWarning)]
    assert (r.data_rank_x, r.data_rank_y) == (rx, ry)
    assert r.coefficients.size == (min(p, q) if keep_deficient else min(rx, ry))
    if keep_deficient:
        moved = ridge_shift_bound(x, rx) + ridge_shift_bound(y, ry)   # twice the bound above
        assert int(np.sum(r.coefficients > 1 - moved - 1e-12)) >= forced
    else:
        assert int(np.sum(r.coefficients > 1 - 1e-9)) == forced
    if forced:
        assert len(msgs) == 1
        assert f"at least {forced} of the {r.coefficients.size} coefficients" in msgs[0]
        assert f"{n} datapoints for {rx} + {ry} dimensions" in msgs[0]
    else:
        assert not msgs


def test_degenerate_count_of_the_issue_example():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 12)), rng.standard_normal((5, 9))
    for kw, total in (({}, 4), ({"rank_tol": None}, 9)):
        with pytest.warns(fastcca.DegenerateCCAWarning, match=f"at least 4 of the {total} coefficients"):
            r = fastcca.cca(x, y, **kw)
        assert np.sum(r.coefficients > 1 - 1e-6) == 4


def test_degenerate_count_in_grid():
    rng = np.random.default_rng(1)
    jm = fastcca.JointMoments().update({"a": rng.standard_normal((6, 8)), "b": rng.standard_normal((6, 3))})
    with pytest.warns(fastcca.DegenerateCCAWarning, match="data ranks"):
        g = fastcca.similarity_grid(jm, measure="cca")
    # a vs b: ranks 5 and 3 in 5 dimensions: all 3 coefficients are 1
    assert g.value("a", "b") == pytest.approx(1.0, abs=1e-6)


def test_degenerate_count_in_conv():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 2, 2))
    with pytest.warns(fastcca.DegenerateCCAWarning, match="conv CCA") as rec:
        r = fastcca.conv_cca(x, x + rng.standard_normal(x.shape))
    msg = str(rec[0].message)
    forced = int(re.search(r"at least (\d+) of the (\d+)", msg).group(1))
    assert forced == int(np.sum(r.coefficients > 1 - 1e-6))


# ============================================================== class 6: data-rank deficiency
def deficient_layers():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((500, 12))
    z = rng.standard_normal((500, 5))
    x32 = rng.standard_normal((800, 6)).astype(np.float32)
    w32 = rng.standard_normal((6, 10)).astype(np.float32)
    return {
        "duplicated neuron": (np.column_stack([x, x[:, 0]]), 12),
        "8 neurons spanning 5": (z @ rng.standard_normal((5, 8)), 5),
        "widening linear map in float32": (x32 @ w32 + np.float32(0.3), 6),
        "fewer datapoints than neurons": (rng.standard_normal((7, 10)), 6),
    }


@pytest.mark.parametrize("name", list(deficient_layers()))
def test_a_rank_deficient_layer_against_itself_gives_one(name):
    x, rank = deficient_layers()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastcca.DegenerateCCAWarning)
        r = fastcca.cca(x, x)
        assert (r.rank_x, r.data_rank_x) == (rank, rank)
        assert r.similarity == pytest.approx(1.0, abs=1e-8)
        assert any(f"data rank {rank} < {x.shape[1]}" in s for s in r.notes)
        for f in (fastcca.svcca, fastcca.pwcca, fastcca.mean_cca):
            assert f(x, x).similarity == pytest.approx(1.0, abs=1e-8), f.__name__
        # the reference behaviour: the ridge-lifted directions stay with coefficient ~0, and the
        # notes say exactly that
        ref = fastcca.cca(x, x, rank_tol=None)
    assert ref.rank_x == x.shape[1] and ref.data_rank_x == rank
    assert ref.similarity == pytest.approx(rank / x.shape[1], abs=1e-4)
    assert any("rank_tol=None keeps" in s and "~0 by construction" in s for s in ref.notes)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), extra=st.integers(1, 6))
def test_redundant_neurons_do_not_change_cca(seed, extra):
    """Appending neurons that are linear combinations of the others (x -> [x, x W]) leaves the
    data's column space, and so exact CCA (eps=0), unchanged: with the data-rank rule the
    result equals the original's."""
    x, y = make_pair(400, 6, 5, seed=seed)
    w = np.random.default_rng(seed).standard_normal((6, extra))
    wide = np.column_stack([x, x @ w])
    a, b = fastcca.cca(x, y, eps=0), fastcca.cca(wide, y, eps=0)
    np.testing.assert_allclose(b.coefficients, a.coefficients, atol=1e-7)
    assert b.rank_x == 6 and b.data_rank_x == 6


def test_torch_grid_widening_linear_against_itself():
    torch = pytest.importorskip("torch")
    from fastcca.torch import compare_layers
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.Tanh(), torch.nn.Linear(10, 4))
    data = [torch.randn(200, 6) for _ in range(3)]
    for measure in ("cca", "svcca", "pwcca"):
        g = compare_layers(net, data, ["0"], measure=measure, progress=False)
        assert g.values[0, 0] == pytest.approx(1.0, abs=1e-6), measure
    g = compare_layers(net, data, ["0"], measure="cca", progress=False, rank_tol=None)
    assert g.values[0, 0] == pytest.approx(0.6, abs=1e-3)
    assert any("data rank 6 < 10" in s for s in g.notes)


def test_torch_measure_arguments_fail_before_the_pass():
    torch = pytest.importorskip("torch")
    from fastcca.torch import compare_checkpoints, compare_layers

    def no_data():
        raise AssertionError("the data were read before the arguments were checked")
        yield  # pragma: no cover

    net = torch.nn.Sequential(torch.nn.Linear(3, 2))
    raises_naming(TypeError, "eps", "'abc'", compare_layers, net, no_data(), ["0"], eps="abc", progress=False)
    raises_naming(ValueError, "rcond", "nan", compare_layers, net, no_data(), ["0"], rcond=float("nan"),
                  progress=False)
    raises_naming(ValueError, "rank_tol", "-1", compare_checkpoints, net, [net.state_dict()], no_data(),
                  ["0"], rank_tol=-1, progress=False)
    with pytest.raises(TypeError, match="unexpected measure argument"):
        compare_layers(net, no_data(), ["0"], treshold=0.9, progress=False)


# ============================================================== class 7: masked arrays
def test_masked_arrays_are_refused_everywhere(xy):
    x, y = xy
    mx = np.ma.masked_array(x, mask=np.zeros_like(x, bool))
    mx.mask[3, 1] = True
    raises_naming(TypeError, "x", "MaskedArray", fastcca.cca, mx, y)
    raises_naming(TypeError, "y", "MaskedArray", fastcca.svcca, x, np.ma.masked_invalid(y))
    jm = fastcca.JointMoments().update({"a": x, "b": y})
    snap = snapshot(jm)
    raises_naming(TypeError, "batch['a']", "MaskedArray", jm.update, {"a": mx, "b": y})
    assert_unchanged(jm, snap)


def test_masked_conv_activations_are_refused():
    cx, cy = conv_pair()
    cm = ConvMoments().update(cx, cy)
    snap = snapshot(cm)
    raises_naming(TypeError, "x", "MaskedArray", cm.update, np.ma.masked_array(cx), cy)
    assert_unchanged(cm, snap)
    raises_naming(TypeError, "x", "MaskedArray", fastcca.conv_cca, np.ma.masked_array(cx), cy)


def test_dask_refuses_masked_and_non_numeric_chunks_on_the_client():
    da = pytest.importorskip("dask.array")
    from fastcca.dask import conv_moments, moments
    x = np.random.default_rng(0).standard_normal((40, 3))
    masked = da.from_array(np.ma.masked_array(x, mask=np.zeros_like(x, bool)), chunks=(10, -1))
    raises_naming(TypeError, "x", "masked", moments, masked, da.from_array(x, chunks=(10, -1)))
    raises_naming(TypeError, "y", "complex128", moments, da.from_array(x, chunks=10),
                  da.from_array(x + 1j, chunks=10))
    raises_naming(TypeError, "x", "<U1", moments, da.from_array(np.full((40, 3), "a"), chunks=10))
    raises_naming(TypeError, "x", "generator", moments, (r for r in x))
    raises_naming(TypeError, "x", "complex128", conv_moments, da.ones((4, 2, 3, 3), chunks=2).astype(complex))


# ============================================================== malformed arrays (hypothesis)
KINDS = {  # malformation -> (exception type, how the message starts: the argument's name)
    "nan": ValueError, "inf": ValueError, "rows": ValueError, "rank": ValueError, "cube": ValueError,
    "empty": ValueError, "complex": TypeError, "strings": TypeError, "masked": TypeError,
    "generator": TypeError, "ragged": ValueError,
}


def malform(a, kind, i):
    if kind in ("nan", "inf"):
        a = a.copy()
        a.flat[i % a.size] = np.nan if kind == "nan" else -np.inf
        return a
    return {"rows": lambda: a[:-1], "rank": lambda: a.reshape(-1), "cube": lambda: a[..., None],
            "empty": lambda: a[:, :0], "complex": lambda: a + 1j, "strings": lambda: a.astype(str),
            "masked": lambda: np.ma.masked_array(a), "generator": lambda: (r for r in a),
            "ragged": lambda: [list(r) for r in a[:-1]] + [list(a[-1, :-1]) + [1.0, 2.0]]}[kind]()


@st.composite
def malformed_batches(draw):
    """A batch pair (x, y) with one side malformed, the exception it must raise, the name its
    message must start with, and the good widths (p, q)."""
    n, p, q = draw(st.integers(2, 12)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind, side = draw(st.sampled_from(sorted(KINDS))), draw(st.sampled_from(["x", "y"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x, y = rng.standard_normal((n, p)), rng.standard_normal((n, q))
    if side == "x":
        x = malform(x, kind, draw(st.integers(0, 1000)))
    else:
        y = malform(y, kind, draw(st.integers(0, 1000)))
    return x, y, KINDS[kind], "x and y" if kind == "rows" else side, p, q


@settings(max_examples=80, deadline=None)
@given(case=malformed_batches(), filled_first=st.booleans())
def test_malformed_batches_never_change_an_accumulator(case, filled_first):
    x, y, err, name, p, q = case
    rng = np.random.default_rng(0)
    m = fastcca.Moments()
    if filled_first:
        m.update(rng.standard_normal((5, p)), rng.standard_normal((5, q)))
    snap = snapshot(m)
    with pytest.raises(err) as info:
        m.update(x, y)
    assert str(info.value).startswith(name), (name, str(info.value))
    assert_unchanged(m, snap)
    # the same batch through a JointMoments names the layer
    if not isinstance(x, np.ma.MaskedArray) and not isinstance(y, np.ma.MaskedArray) and name != "x and y":
        jm = fastcca.JointMoments()
        if filled_first:
            jm.update({"x": rng.standard_normal((5, p)), "y": rng.standard_normal((5, q))})
        snap = snapshot(jm)
        with pytest.raises((ValueError, TypeError)) as info:
            jm.update({"x": x, "y": y})
        assert "batch" in str(info.value)
        assert_unchanged(jm, snap)
