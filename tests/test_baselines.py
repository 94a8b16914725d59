"""The speed baselines in ``asv_bench/baselines`` must compute the same numbers as the reference
implementation (stored parity fixtures) and as fastcca, or the speed-ups they give are meaningless."""
from __future__ import annotations

import os

import numpy as np
import pytest

import fastcca
from asv_bench.baselines.reference_numpy import (cca_reference, linear_cka_reference,
                                                 pwcca_reference, svcca_reference)

PARITY = os.environ.get("FASTCCA_PARITY_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "parity"))
# case_2 is the near-rank-deficient one whose outputs move by ~1e-4 with rounding (see its README)
WELL_CONDITIONED = [0, 1, 3, 4]


def _case(i):
    path = os.path.join(PARITY, f"case_{i}.npz")
    if not os.path.exists(path):
        pytest.skip(f"parity fixture {path} not available (set FASTCCA_PARITY_DIR)")
    d = np.load(path, allow_pickle=False)
    return d, d["acts1"].astype(np.float64), d["acts2"].astype(np.float64), float(d["epsilon"])


@pytest.mark.parametrize("case", WELL_CONDITIONED)
def test_cca_baseline_matches_reference(case):
    d, a1, a2, eps = _case(case)
    r = cca_reference(a1, a2, eps)
    np.testing.assert_array_equal(r["x_idxs"], d["x_idxs"])
    np.testing.assert_array_equal(r["y_idxs"], d["y_idxs"])
    np.testing.assert_allclose(r["coef"], d["cca_coef"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("case", WELL_CONDITIONED)
def test_pwcca_baseline_matches_reference(case):
    d, a1, a2, eps = _case(case)
    r = pwcca_reference(a1, a2, eps)
    np.testing.assert_allclose(r["weights"], d["pwcca_weights"], rtol=0, atol=1e-8)
    assert abs(r["similarity"] - float(d["pwcca"])) < 1e-9


@pytest.mark.parametrize("case", WELL_CONDITIONED)
def test_svcca_baseline_matches_reference_pipeline(case):
    d, a1, a2, _ = _case(case)
    # the tutorial pipeline with the fixtures' two keep rules (fixed k; 99% of the variance)
    r = svcca_reference(a1, a2, keep=int(d["svcca_topk_k"]))
    # case_4 ran its SVD in float32 in the reference; here it is float64
    tol = 1e-6 if case == 4 else 1e-9
    assert abs(r["similarity"] - float(d["svcca_topk_mean"])) < tol
    r = svcca_reference(a1, a2, keep=0.99, keep_rule="variance")
    assert (r["k1"], r["k2"]) == (int(d["svcca_var99_k1"]), int(d["svcca_var99_k2"]))
    assert abs(r["similarity"] - float(d["svcca_var99_mean"])) < tol


def _pair(p, q, n, seed):
    rng = np.random.default_rng(seed)
    decay = np.exp(-np.arange(p) / (p / 8)) + 0.01
    z = rng.standard_normal((n, p)) * decay
    y = z @ (rng.standard_normal((p, q)) / np.sqrt(p)) + 0.1 * rng.standard_normal((n, q))
    return z, y


@pytest.mark.parametrize("p,q", [(40, 40), (30, 50), (60, 25)])
def test_baselines_agree_with_fastcca(p, q):
    x, y = _pair(p, q, 2000, seed=p + q)
    ref = cca_reference(x.T, y.T, 1e-10)
    np.testing.assert_allclose(fastcca.cca(x, y).coefficients, ref["coef"], rtol=0, atol=1e-8)

    ref_sv = svcca_reference(x.T, y.T, keep=0.99)          # papers' rule: sum of singular values
    got = fastcca.svcca(x, y, keep=0.99)
    assert (got.k_x, got.k_y) == (ref_sv["k1"], ref_sv["k2"])
    np.testing.assert_allclose(got.coefficients, ref_sv["coef"], rtol=0, atol=1e-8)

    ref_pw = pwcca_reference(x.T, y.T, 1e-10)
    got_pw = fastcca.pwcca(x, y, variant="reference")
    np.testing.assert_allclose(got_pw.weights, ref_pw["weights"], rtol=0, atol=1e-8)
    assert abs(got_pw.similarity - ref_pw["similarity"]) < 1e-9

    assert abs(fastcca.linear_cka(x, y).similarity - linear_cka_reference(x.T, y.T)) < 1e-12


def test_google_svcca_loader_refuses_missing_or_changed_sources(tmp_path):
    """asv_bench/baselines/google_svcca.py applies its Python 3 fixes to the reference's own
    files or says why it cannot: absent files, and a fix that no longer matches (the upstream
    code changed) are errors, never a silently different baseline.  With the real files
    (FASTCCA_GOOGLE_SVCCA) it must reproduce the parity fixture's per-location coefficients."""
    from asv_bench.baselines import google_svcca
    with pytest.raises(google_svcca.ReferenceUnavailable, match="not found"):
        google_svcca.load(str(tmp_path))
    (tmp_path / "cca_core.py").write_text("import numpy as np\n")
    (tmp_path / "dft_ccas.py").write_text("import cca_core\n")
    with pytest.raises(google_svcca.ReferenceUnavailable, match="does not match"):
        google_svcca.load(str(tmp_path))
    src = os.environ.get("FASTCCA_GOOGLE_SVCCA")
    path = os.path.join(PARITY, "case_5.npz")
    if not src or not os.path.exists(path):
        return
    pytest.importorskip("pandas")
    dft = google_svcca.load(src)
    d = np.load(path, allow_pickle=False)
    got = google_svcca.per_location(dft.fourier_ccas(d["conv1"], d["conv2"]), 8, 8, 12)
    np.testing.assert_allclose(got, d["fourier_same_coef"], atol=1e-12, equal_nan=True)
