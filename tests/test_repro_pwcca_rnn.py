"""Mathematics added for pwcca-fig1 / figA1 / figA4 (paper_repro.pwcca_dynamics and the helpers of
paper_repro.figures.pwcca_figA4): convergence steps, signal / noise canonical variates, the
coefficient dynamics of a layer, repeated inputs and step distances."""
from __future__ import annotations

import numpy as np
import pytest

import fastcca
from paper_repro.data import random_orthogonal
from paper_repro.figures.pwcca_figA4 import repeated_input, step_distances
from paper_repro.pwcca_dynamics import (coefficient_dynamics, convergence_step, convergence_summary,
                                        nearest_index, set_distance, signal_noise_variates)


# ---- convergence_step --------------------------------------------------------------------------
def test_convergence_step_first_passage_closed_form():
    steps = [0, 10, 20, 30, 40]
    # improvement 0 -> 1; progress 0, .5, .96, .9, 1: first passage of 0.95 is step 20
    assert convergence_step(steps, [0.0, 0.5, 0.96, 0.9, 1.0], 0.95) == 20
    assert convergence_step(steps, [0.0, 0.5, 0.96, 0.9, 1.0], 0.97) == 40
    # a loss passed negated: 4 -> 1, 95% of the drop reached at 1.15
    assert convergence_step(steps, -np.array([4.0, 2.0, 1.2, 1.1, 1.0]), 0.95) == 30
    # measured to the last-but-one point: the final jump is ignored
    assert convergence_step(steps, [0.4, 0.5, 0.6, 0.7, 1.0], 0.95, upto=-2) == 30
    assert convergence_step(steps, [0.4, 0.7, 0.69, 0.7, 1.0], 0.95, upto=-2) == 10


def test_convergence_step_no_improvement_and_nan():
    assert convergence_step([0, 5, 9], [1.0, 0.5, 0.9]) == 0           # never improved
    assert convergence_step([0, 5, 9], [0.0, np.nan, 1.0]) == 9          # nan is not converged
    assert nearest_index([0, 10, 25, 50], 20) == 2 and nearest_index([0, 10, 30], 20) == 1


# ---- signal / noise variates ---------------------------------------------------------------------
def _pair(n=4000, p=12, shared=4, seed=0):
    """x, y (n, p) sharing `shared` signal dimensions with distinct strengths, the rest independent."""
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, shared))
    x = np.concatenate([s, rng.standard_normal((n, p - shared))], 1) @ random_orthogonal(p, rng)
    noise = np.linspace(0.1, 1.0, shared)
    ys = s + noise * rng.standard_normal((n, shared))
    y = np.concatenate([ys, rng.standard_normal((n, p - shared))], 1) @ random_orthogonal(p, rng)
    return x, y


def test_signal_noise_variates_are_the_canonical_variates():
    x, y = _pair()
    top, bottom, rho = signal_noise_variates(x, y, k=3)
    assert top.shape == (len(x), 3) and bottom.shape == (len(x), 3)
    v = np.concatenate([top, bottom], 1)
    # unit variance, mutually uncorrelated
    np.testing.assert_allclose(np.cov(v, rowvar=False), np.eye(6), atol=1e-8)
    # the top set spans the strongly shared directions: its CCA with y returns exactly rho[:3]
    np.testing.assert_allclose(fastcca.cca(top, y).coefficients, rho[:3], atol=1e-8)
    np.testing.assert_allclose(fastcca.cca(bottom, y).coefficients, rho[-3:], atol=1e-8)
    assert set_distance(top, y) == pytest.approx(1 - rho[:3].mean(), abs=1e-8)
    assert set_distance(bottom, y) == pytest.approx(1 - rho[-3:].mean(), abs=1e-8)
    # the top 3 are the shared signals (noise 0.1..0.7 -> rho > 0.8), the bottom ones chance level
    assert rho[2] > 0.8 and rho[-1] < 0.1
    # the variates lie in x's span: distance 0 to x itself
    assert set_distance(top, x) == pytest.approx(0.0, abs=1e-8)
    assert set_distance(bottom, x) == pytest.approx(0.0, abs=1e-8)


def test_signal_noise_variates_k_rules():
    x, y = _pair(p=10)
    top, bottom, rho = signal_noise_variates(x, y, k_frac=0.2)
    assert top.shape[1] == bottom.shape[1] == round(0.2 * len(rho)) == 2
    top, bottom, _ = signal_noise_variates(x, y, k=99)                   # clipped: disjoint halves
    assert top.shape[1] == bottom.shape[1] == 5
    with pytest.raises(ValueError, match="exactly one"):
        signal_noise_variates(x, y)


# ---- coefficient_dynamics / convergence_summary --------------------------------------------------
def test_coefficient_dynamics_invariants():
    rng = np.random.default_rng(3)
    n, p = 3000, 10
    final = rng.standard_normal((n, p))
    # checkpoints drift towards the final representation, each seen through its own rotation
    reps = [(final + a * rng.standard_normal((n, p))) @ random_orthogonal(p, rng) for a in (2.0, 1.0, 0.5, 0.2)]
    reps.append(final @ random_orthogonal(p, rng))
    steps = [0, 25, 50, 75, 100]
    d = coefficient_dynamics(reps, steps, early_frac=0.25, mid_frac=0.5, k_frac=0.2)
    np.testing.assert_allclose(d["coefficients"][-1], 1.0, atol=1e-8)    # final vs itself (rotated)
    assert np.all(np.diff(d["mean_rho"]) > 0)                            # closer at every checkpoint
    assert d["early_step"] == 25 and d["mid_step"] == 50 and d["k"] == 2
    ie, im = 1, 2
    assert d["signal_distance"][ie] == pytest.approx(0.0, abs=1e-8)
    assert d["noise_distance"][ie] == pytest.approx(0.0, abs=1e-8)
    rho = np.asarray(d["early_mid_rho"])
    assert d["signal_distance"][im] == pytest.approx(1 - rho[:2].mean(), abs=1e-8)
    assert d["noise_distance"][im] == pytest.approx(1 - rho[-2:].mean(), abs=1e-8)


def test_convergence_summary_hand_example():
    m = {"steps": [0, 10, 20, 30, 40], "performance": [0.1, 0.9, 0.95, 0.96, 0.96], "higher_is_better": True,
         "mean_rho": [0.2, 0.3, 0.4, 0.6, 1.0],
         "coefficients": [[0.4, 0.0], [0.5, 0.1], [0.6, 0.2], [0.9, 0.3], [1.0, 1.0]]}
    s = convergence_summary(m, 0.95, 0.05)
    assert s["perf_step"] == 20                      # 0.95 >= 0.1 + 0.95 * 0.86
    assert s["coef_step"] == 30                      # to the last-but-one: 0.6 reached at 30
    assert s["coef_change_after_perf"] == pytest.approx((0.6 - 0.4) / (0.6 - 0.2))
    assert s["frac_coefs_changing"] == 1.0           # both indices move by 0.3 / 0.1 after step 20
    # perplexity: lower is better, measured on its log
    m2 = dict(m, performance=list(np.exp([3.0, 1.5, 1.15, 1.0, 1.0])), higher_is_better=False)
    assert convergence_summary(m2, 0.95, 0.05)["perf_step"] == 30


# ---- Fig A4 helpers --------------------------------------------------------------------------------
def test_repeated_input():
    tok = np.arange(12).reshape(2, 6)
    out = repeated_input(tok, 2, 4)
    np.testing.assert_array_equal(out, [[0, 1, 2, 2, 2, 2], [6, 7, 8, 8, 8, 8]])
    np.testing.assert_array_equal(repeated_input(tok, 0, 2), [[0, 0], [6, 6]])
    with pytest.raises(ValueError, match="start"):
        repeated_input(tok, 6, 2)
    with pytest.raises(ValueError, match="repeat"):
        repeated_input(tok, 1, 0)


def test_step_distances_closed_forms():
    rng = np.random.default_rng(5)
    n, d = 2000, 6
    hR = rng.standard_normal((n, d))
    a = rng.standard_normal((d, d)) + 3 * np.eye(d)                     # invertible linear map
    h = np.stack([hR @ a, 2.0 * hR, -hR, rng.standard_normal((n, d)), hR], axis=1)
    out = step_distances(h)
    assert out["cosine"][-1] == out["euclidean"][-1] == out["pwcca"][-1] == 0.0
    assert out["pwcca"][0] == pytest.approx(0.0, abs=1e-8)               # CCA: invariant to a linear map
    assert out["cosine"][0] > 0.01
    assert out["cosine"][1] == pytest.approx(0.0, abs=1e-12)             # scaling: cosine 0
    assert out["euclidean"][1] == pytest.approx(1.0, rel=1e-12)          # ||2h - h|| / ||h|| = 1
    assert out["cosine"][2] == pytest.approx(2.0, abs=1e-12)             # opposite: 1 - (-1)
    assert out["euclidean"][2] == pytest.approx(2.0, rel=1e-12)
    assert out["pwcca"][3] > 0.9                                         # independent: ~uncorrelated


def test_one_layer_matches_layer_outputs():
    torch = pytest.importorskip("torch")
    from paper_repro.classifiers import layer_outputs
    from paper_repro.models import build
    from paper_repro.pwcca_dynamics import one_layer
    torch.manual_seed(0)
    config = {"model": {"name": "svcca_convnet", "in_channels": 1, "image": 8, "width": 2, "fc": 6}}
    state = build(config["model"]).state_dict()
    x = np.random.default_rng(0).random((37, 1, 8, 8)).astype(np.float32)
    full = layer_outputs(config, state, x, batch=16, device="cpu")
    for li in (1, 10):                                   # c1 (n, c, h, w) and fc1 (n, d)
        np.testing.assert_allclose(one_layer(config, state, x, li, batch=16, device="cpu"), full[li].reshape(37, -1))
