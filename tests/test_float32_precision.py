"""precision="float32": the error estimate (largest variance inflation factor x 2^-24) and the
warning it drives.  Benign data (well conditioned, or only badly scaled) stays within ~1e-6 of
float64 and is not warned about; nearly collinear neurons are, and the estimate tracks the
actual error."""
import warnings

import numpy as np
import pytest

import fastcca
from fastcca._canonical import whiten
from fastcca.backend import get_backend

MEASURES = ("cca", "pwcca", "svcca")


def _low_rank(noise, n=6000, p=96, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 16))
    x = z @ rng.standard_normal((16, p)) + noise * rng.standard_normal((n, p))
    y = z @ rng.standard_normal((16, p)) + noise * rng.standard_normal((n, p)) + 3.0
    return x, y


def _run(measure, x, y, precision, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = getattr(fastcca, measure)(x, y, precision=precision, **kw)
    warned = [w for w in caught if issubclass(w.category, fastcca.Float32PrecisionWarning)]
    return r, warned


def _error(a, b):
    assert len(a.coefficients) == len(b.coefficients)
    return max(abs(a.similarity - b.similarity), float(np.max(np.abs(a.coefficients - b.coefficients))))


@pytest.mark.parametrize("measure", MEASURES)
def test_benign_data_no_warning_and_small_error(measure):
    rng = np.random.default_rng(1)
    # badly scaled (neuron variances over 8 decades) but not collinear: float32 loses nothing
    x = rng.standard_normal((6000, 80)) * np.logspace(0, -4, 80)
    y = x @ rng.standard_normal((80, 70)) / 9 + 0.3 * rng.standard_normal((6000, 70))
    r64, _ = _run(measure, x, y, "float64")
    r32, warned = _run(measure, x, y, "float32")
    assert not warned
    assert not any("float32" in n for n in r32.notes)
    assert _error(r64, r32) < 1e-6


@pytest.mark.parametrize("measure", ("cca", "pwcca"))
def test_collinear_neurons_warn_and_the_estimate_tracks_the_error(measure):
    x, y = _low_rank(noise=0.03)
    r64, _ = _run(measure, x, y, "float64")
    r32, warned = _run(measure, x, y, "float32")
    assert len(warned) == 1
    note = [n for n in r32.notes if "precision='float32'" in n]
    assert len(note) == 1 and "precision='float64'" in note[0]
    err = _error(r64, r32)
    assert err > 1e-4                                  # the case is a real one
    est = float(note[0].split("may be off by about ")[1].split(" ")[0])
    assert est / 10 <= err <= 10 * est


def test_svcca_warns_only_when_its_kept_directions_are_collinear():
    x, y = _low_rank(noise=0.01)
    # keep=0.99 of the singular-value sum keeps the 16 signal directions: well conditioned
    _, warned = _run("svcca", x, y, "float32")
    assert not warned
    # keeping every direction brings in the noise floor: the float32 error is amplified
    r64, _ = _run("svcca", x, y, "float64", keep=96)
    r32, warned = _run("svcca", x, y, "float32", keep=96)
    assert len(warned) == 1 and _error(r64, r32) > 1e-4


def test_float64_never_warns_about_precision():
    x, y = _low_rank(noise=0.001)
    for measure in MEASURES:
        _, warned = _run(measure, x, y, "float64")
        assert not warned


@pytest.mark.parametrize("eps", [1e-10, 0.0])           # Cholesky route, eigh route
def test_max_variance_inflation_is_the_largest_vif(eps):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((500, 6))
    x[:, 5] = x[:, 0] + 0.1 * x[:, 1] + 0.01 * rng.standard_normal(500)    # nearly collinear
    xc = x - x.mean(axis=0)
    s = xc.T @ xc
    be = get_backend("cpu")
    w = whiten(be, s, eps)
    assert w.route == ("cholesky" if eps > 0 else "eigh")
    vif = []
    for i in range(6):                                   # 1 / (1 - R^2) by least squares
        others = np.delete(xc, i, axis=1)
        resid = xc[:, i] - others @ np.linalg.lstsq(others, xc[:, i], rcond=None)[0]
        vif.append(s[i, i] / (resid @ resid))
    # the ridge eps I (relative to the largest variance) shifts a VIF of ~1e4 by ~1e-6 relative
    np.testing.assert_allclose(w.max_variance_inflation(be, s), max(vif), rtol=1e-4 if eps else 1e-8)


def test_grid_names_the_collinear_layer():
    x, y = _low_rank(noise=0.03, n=4000, p=64)
    rng = np.random.default_rng(3)
    benign = rng.standard_normal((4000, 40))
    jm = fastcca.JointMoments(precision="float32").update({"collinear": x, "benign": benign})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = fastcca.similarity_grid(jm, measure="cca")
    warned = [w for w in caught if issubclass(w.category, fastcca.Float32PrecisionWarning)]
    assert len(warned) == 1
    assert "layer collinear" in str(warned[0].message) and "layer benign" not in str(warned[0].message)
    assert any("precision='float32'" in n for n in grid.notes)
    # a pair's Moments keeps the precision, so the one-pair measure warns alike
    with pytest.warns(fastcca.Float32PrecisionWarning):
        fastcca.cca(jm.moments("collinear", "benign"))
    jm64 = fastcca.JointMoments().update({"collinear": x, "benign": benign})
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastcca.Float32PrecisionWarning)
        fastcca.similarity_grid(jm64, measure="cca")


@pytest.mark.parametrize("measure", ("conv_cca", "conv_svcca"))
def test_conv_fft_warns_on_collinear_channels_only(measure):
    rng = np.random.default_rng(4)
    n, c, h = 1500, 24, 6
    z = rng.standard_normal((n, 4, h, h))
    mix = rng.standard_normal((c, 4))
    x = np.einsum("ck,nkij->ncij", mix, z) + 3e-3 * rng.standard_normal((n, c, h, h))
    y = np.einsum("ck,nkij->ncij", rng.standard_normal((c, 4)), z) + 3e-3 * rng.standard_normal((n, c, h, h))
    kw = {"keep": c * h * h} if measure == "conv_svcca" else {}      # svcca: keep the noise floor too
    f = getattr(fastcca, measure)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r64 = f(x, y, **kw)
        r32 = f(x, y, precision="float32", **kw)
    warned = [w for w in caught if issubclass(w.category, fastcca.Float32PrecisionWarning)]
    assert len(warned) == 1 and any("precision='float32'" in n for n in r32.notes)
    assert abs(r64.similarity - r32.similarity) > 1e-5 or np.max(np.abs(r64.coefficients - r32.coefficients)) > 1e-4
    benign_x = rng.standard_normal((n, c, h, h))
    benign_y = benign_x[:, ::-1] + rng.standard_normal((n, c, h, h))
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastcca.Float32PrecisionWarning)
        f(benign_x, benign_y, precision="float32")


def test_merged_float32_products_are_tracked(tmp_path):
    # a float64 accumulator that merged a float32 shard holds float32 products: measures check
    x, y = _low_rank(noise=0.03)
    m = fastcca.Moments.from_arrays(x[:3000], y[:3000])
    assert not m.float32_products
    m.merge(fastcca.Moments.from_arrays(x[3000:], y[3000:], precision="float32"))
    assert m.float32_products and m.precision == "float64"    # later updates stay float64
    with pytest.warns(fastcca.Float32PrecisionWarning):
        fastcca.cca(m)
    m.save(tmp_path / "m.npz")
    assert fastcca.Moments.load(tmp_path / "m.npz").float32_products
    assert m.copy().float32_products
    import pickle
    assert pickle.loads(pickle.dumps(m)).float32_products


def test_conv_moments_keep_float32_products_through_save_and_merge(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((40, 3, 4, 4))
    y = rng.standard_normal((40, 2, 4, 4))
    m32 = fastcca.ConvMoments.from_arrays(x, y, precision="float32")
    assert m32.float32_products
    m32.save(tmp_path / "c.npz")
    back = fastcca.ConvMoments.load(tmp_path / "c.npz")
    assert back.precision == "float32" and back.float32_products
    m64 = fastcca.ConvMoments.from_arrays(x, y)
    assert not m64.float32_products
    assert m64.merge(m32).float32_products and m64.precision == "float64"


def test_joint_moments_track_merged_float32_products():
    # a float64 layer grid that merged a float32 part holds float32 products: the grid, and a
    # pair's Moments, estimate their float32 error (as Moments.merge does)
    x, y = _low_rank(noise=0.03, n=4000, p=64)
    jm = fastcca.JointMoments().update({"collinear": x[:2000], "other": y[:2000]})
    assert not jm.float32_products
    jm.merge(fastcca.JointMoments(precision="float32").update({"collinear": x[2000:], "other": y[2000:]}))
    assert jm.float32_products and jm.precision == "float64"
    assert jm.moments("collinear", "other").float32_products
    with pytest.warns(fastcca.Float32PrecisionWarning):
        fastcca.similarity_grid(jm, measure="cca")
    import pickle
    state = pickle.loads(pickle.dumps(jm)).__dict__
    del state["float32_products"]            # a pickle from before the flag was kept
    old = fastcca.JointMoments.__new__(fastcca.JointMoments)
    old.__setstate__({**state, "_be_name": "cpu"})
    assert not old.float32_products          # precision float64: no float32 products recorded


# --- the other measures: their own estimates (shape metric alpha < 1, linear predictivity, PLS,
# PCA); Procrustes, linear and debiased CKA whiten nothing and stay at rounding level


def _noisy_target(noise, n=4000, p=64, seed=0):
    """Nearly collinear x (16 factors + ``noise``) and a y with much variance of its own."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 16))
    x = z @ rng.standard_normal((16, p)) + noise * rng.standard_normal((n, p))
    return x, z @ rng.standard_normal((16, p)) + 4.0 * rng.standard_normal((n, p))


def _benign(n=4000, p=48, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p)) * np.logspace(0, -3, p)
    return x, x @ rng.standard_normal((p, p)) / 7 + 0.3 * rng.standard_normal((n, p))


def _call(f, *args, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = f(*args, **kw)
    return r, [w for w in caught if issubclass(w.category, fastcca.Float32PrecisionWarning)]


def _estimate(note):
    return float(note.split("may be off by about ")[1].split(" ")[0])


def _abs(get):
    return lambda a, b: float(np.max(np.abs(get(a) - get(b))))


# measure, keyword arguments, data, the float32 error (of float64 result a, float32 b) the estimate covers
OTHER = {
    "shape alpha=0": (fastcca.shape_metric, dict(alpha=0.0), lambda: _low_rank(0.01, n=4000, p=64),
                      _abs(lambda r: np.r_[r.distance, r.similarity])),
    "predictivity ridge=0": (fastcca.linear_predictivity, dict(ridge=0.0), lambda: _noisy_target(0.001),
                             _abs(lambda r: np.r_[r.similarity, r.r2_xy, r.r2_yx])),
    "pls": (fastcca.pls, {}, lambda: _low_rank(0.01, n=4000, p=64), _abs(lambda r: r.correlations)),
    # the relative error of each component's variance
    "pca": (lambda x, y, **kw: fastcca.pca(x, **kw), {}, lambda: _low_rank(0.01, n=4000, p=64),
            lambda a, b: float(np.max(np.abs(b.explained_variance / a.explained_variance - 1.0)))),
}


def _both_precisions(case, x, y):
    """float64 and float32 results of ``case`` and the float32 warnings; float64 never warns."""
    f, kw, _, error = OTHER[case]
    r64, w64 = _call(f, x, y, precision="float64", **kw)
    r32, warned = _call(f, x, y, precision="float32", **kw)
    assert not w64 and not any("precision='float32'" in n for n in r64.notes)
    return r64, r32, warned, error(r64, r32)


@pytest.mark.parametrize("case", sorted(OTHER))
def test_other_measures_warn_on_collinear_data_and_the_estimate_bounds_the_error(case):
    r64, r32, warned, err = _both_precisions(case, *OTHER[case][2]())
    assert len(warned) == 1
    note = [n for n in r32.notes if "precision='float32'" in n]
    assert len(note) == 1 and "precision='float64'" in note[0]
    assert err > 1e-4                                  # a real case
    # calibrated in asv_bench/float32_error_sweep.py: error / estimate within 0.01-20
    assert err <= 20 * _estimate(note[0])


@pytest.mark.parametrize("case", sorted(OTHER))
def test_other_measures_quiet_on_benign_data(case):
    _, r32, warned, err = _both_precisions(case, *_benign())
    assert not warned and not any("precision='float32'" in n for n in r32.notes)
    assert err < 1e-5


def test_shape_partial_whitening_damps_the_estimate():
    # the same nearly collinear data: alpha = 0 (CCA) warns, alpha = 1/2 whitens the weak
    # directions less and they carry little of ||X_alpha||: no warning, a small error
    x, y = _low_rank(0.01, n=4000, p=64)
    assert _call(fastcca.shape_metric, x, y, alpha=0.0, precision="float32")[1]
    r64, _ = _call(fastcca.shape_metric, x, y, alpha=0.5)
    r32, warned = _call(fastcca.shape_metric, x, y, alpha=0.5, precision="float32")
    assert not warned and abs(r64.distance - r32.distance) < 1e-5


def test_gcv_ridge_damps_the_predictivity_estimate():
    x, y = _noisy_target(0.01)
    r64, _ = _call(fastcca.linear_predictivity, x, y)
    r32, warned = _call(fastcca.linear_predictivity, x, y, precision="float32")
    assert not warned and abs(r64.similarity - r32.similarity) < 1e-6


@pytest.mark.parametrize("measure", ("procrustes", "linear_cka", "debiased_cka"))
def test_measures_that_whiten_nothing_stay_at_rounding_level(measure):
    x, y = _low_rank(0.001, n=4000, p=64)              # collinear enough to break CCA entirely
    r64, _ = _call(getattr(fastcca, measure), x, y)
    r32, warned = _call(getattr(fastcca, measure), x, y, precision="float32")
    assert not warned
    assert abs(r64.similarity - r32.similarity) < 1e-6


def test_debiased_cka_stays_at_rounding_level_where_its_estimator_cancels():
    # unrelated sides with p >> n: the unbiased HSIC is a small difference of large terms
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((20, 2000)), rng.standard_normal((20, 2000)) + 5.0
    r64, _ = _call(fastcca.debiased_cka, x, y)
    r32, warned = _call(fastcca.debiased_cka, x, y, precision="float32")
    assert not warned and abs(r64.similarity - r32.similarity) < 1e-6


def test_grid_gives_one_warning_for_the_pairs_of_another_measure():
    x, y = _low_rank(0.01, n=3000, p=48)
    rng = np.random.default_rng(3)
    jm = fastcca.JointMoments(precision="float32").update({"a": x, "b": y, "c": rng.standard_normal((3000, 20))})
    _, warned = _call(fastcca.similarity_grid, jm, measure="shape_angular", alpha=0.0)
    assert len(warned) == 1 and "pair(s)" in str(warned[0].message)
    grid = fastcca.similarity_grid(jm, measure="shape_angular", alpha=0.5)
    assert not any("precision='float32'" in n for n in grid.notes)


@pytest.mark.parametrize("case", sorted(OTHER))
def test_other_estimates_run_on_the_array_module_backend(case):
    # the strict device stand-in raises on host/device mixing; its float32 GEMM sets the flag
    import xp_standin
    f, kw, data, _ = OTHER[case]
    x, y = data()
    m = fastcca.Moments._with_backend_module(xp_standin.strict_backend(gemm_dtype="float32")).update(x, y)
    r, warned = _call(f, m, None, **kw)
    assert len(warned) == 1 and any("precision='float32'" in n for n in r.notes)
