"""paper_repro.populations: the mathematics behind PWCCA Fig 4 / 5 / A6 / A7 -- the distances
between two nets' representations, the filter-mean representation, the ablation curve and its
area, the clustering of a distance matrix and the statistics the claim checks use."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import f_oneway

import fastcca
from paper_repro import populations as P
from paper_repro.classifiers import layer_outputs

torch = pytest.importorskip("torch")


def _net(seed: int, width_factor: float = 0.0625):
    """A random PWCCAConvNet (config, state) with BatchNorm statistics that are not the identity."""
    from paper_repro.models import build
    torch.manual_seed(seed)
    cfg = {"model": {"name": "pwcca_convnet", "width_factor": width_factor, "in_channels": 1}}
    m = build(cfg["model"])
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
    return cfg, m.state_dict()


def _images(n=120, seed=0):
    return np.random.default_rng(seed).standard_normal((n, 1, 8, 8)).astype(np.float32)


# ---------------------------------------------------------------- distances

def test_cosine_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 7))
    assert P.cosine_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert P.cosine_distance(a, -a) == pytest.approx(2.0)
    assert P.cosine_distance(a, a * rng.uniform(0.1, 3, (50, 1))) == pytest.approx(0.0, abs=1e-12)
    b = rng.standard_normal((50, 7))
    want = np.mean([1 - u @ v / np.linalg.norm(u) / np.linalg.norm(v) for u, v in zip(a, b)])
    assert P.cosine_distance(a, b) == pytest.approx(want)
    z = a.copy()
    z[3] = 0                                     # a zero datapoint counts as cosine 0
    assert P.cosine_distance(a, z) == pytest.approx((49 * 0 + 1) / 50, abs=1e-12)
    # not invariant to a permutation of the neurons (the point of Fig A6)
    assert P.cosine_distance(a, a[:, ::-1]) > 0.1


def test_euclidean_distance_is_rms_difference():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((40, 9))
    c = rng.standard_normal(9)
    assert P.euclidean_distance(a, a + c) == pytest.approx(np.linalg.norm(c) / 3.0)
    b = rng.standard_normal((40, 9))
    assert P.euclidean_distance(a, b) == pytest.approx(np.mean(np.sqrt(np.mean((a - b) ** 2, axis=1))))


def test_symmetric_pwcca_is_the_mean_of_both_sides_and_invariant():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((400, 6))
    y = x[:, :4] @ rng.standard_normal((4, 9)) + 0.5 * rng.standard_normal((400, 9))
    d = P.symmetric_pwcca_distance(x, y)
    want = 0.5 * (fastcca.pwcca(x, y).distance + fastcca.pwcca(y, x).distance)
    assert d == pytest.approx(want, abs=1e-10)
    assert P.symmetric_pwcca_distance(y, x) == pytest.approx(d, abs=1e-10)
    # invariant to a permutation, a scaling and a shift of the neurons (the projection weights sum
    # |<q_i, y_j>| over y's neurons, so a general rotation of y would change y's side)
    perm = rng.permutation(9)
    assert P.symmetric_pwcca_distance(x, 3.0 * y[:, perm] + 1.0) == pytest.approx(d, abs=1e-8)
    q, _ = np.linalg.qr(rng.standard_normal((9, 9)))
    # a rotated copy is at distance 0; the neuron-matched metrics are not
    assert P.symmetric_pwcca_distance(y, y @ q) == pytest.approx(0.0, abs=1e-8)
    assert P.cosine_distance(y, y @ q) > 0.1


def test_pair_distances_rows_follow_DISTANCES():
    rng = np.random.default_rng(3)
    a = [rng.standard_normal((200, 5)), rng.standard_normal((200, 3))]
    b = [rng.standard_normal((200, 5)), a[1] * 2.0]
    d = P.pair_distances(a, b)
    assert d.shape == (3, 2)
    assert d[P.DISTANCES.index("pwcca"), 1] == pytest.approx(0.0, abs=1e-8)
    assert d[P.DISTANCES.index("cosine"), 1] == pytest.approx(0.0, abs=1e-12)
    assert d[P.DISTANCES.index("euclidean"), 1] == pytest.approx(P.euclidean_distance(a[1], 2 * a[1]))


# ---------------------------------------------------------------- representations

def test_filter_means_are_the_spatial_means_of_every_layer():
    cfg, state = _net(0)
    x = _images()
    reps = P.filter_means(cfg, state, x, batch=50, device="cpu")                  # batches of 50: 50 + 50 + 20
    full = layer_outputs(cfg, state, x, device="cpu")[1:]
    assert len(reps) == len(full) == len(P.layer_names(cfg))
    for r, f in zip(reps, full):
        want = f.mean(axis=(2, 3)) if f.ndim == 4 else f
        np.testing.assert_allclose(r, want, rtol=1e-6, atol=1e-7)


def test_pwcca_of_filter_means_matches_fastcca_torch_recording():
    """The same pair through fastcca.torch (conv='mean' hooks, streamed moments)."""
    from fastcca.torch import record
    from paper_repro.training import load_model
    (ca, sa), (cb, sb) = _net(0), _net(1)
    x = _images(300)
    ma, mb = load_model(ca, sa, device="cpu"), load_model(cb, sb, device="cpu")
    li = P.layer_names(ca).index("conv6")
    rec = record(ma, ["stages.5"], [torch.as_tensor(x[i:i + 64]) for i in range(0, 300, 64)], model_b=mb,
                 conv="mean", progress=False)
    vals, _ = rec.pairs([(("A", "stages.5"), ("B", "stages.5"))], measure="pwcca")
    ra, rb = P.filter_means(ca, sa, x, device="cpu")[li], P.filter_means(cb, sb, x, device="cpu")[li]
    assert vals[0] == pytest.approx(fastcca.pwcca(ra, rb).similarity, abs=1e-6)


# ---------------------------------------------------------------- ablation

def test_curve_area_closed_forms():
    f = np.linspace(0, 1, 11)
    assert P.curve_area(f, np.full(11, 0.7)) == pytest.approx(0.7)
    assert P.curve_area(f, 1 - f) == pytest.approx(0.5)
    assert P.curve_area([0.0, 0.5], [1.0, 0.0]) == pytest.approx(0.5)           # divided by the range
    g = np.array([0.0, 0.1, 0.5, 1.0])
    assert P.curve_area(g, g ** 2) == pytest.approx(np.trapezoid(g ** 2, g))


def test_ablation_curve_matches_a_hook_that_zeroes_channels():
    cfg, state = _net(3)
    from paper_repro.training import load_model
    x = _images(200, seed=4)
    model = load_model(cfg, state, device="cpu")
    with torch.no_grad():
        y = model(torch.as_tensor(x)).argmax(1).numpy()      # labels = the net's own predictions
    layer = P.layer_names(cfg).index("conv4") + 1             # index into model.layer_names
    fr = [0.0, 0.25, 0.5, 1.0]
    got = P.ablation_curve(cfg, state, layer, x, y, fr, orders=2, seed=7, device="cpu")
    assert got.shape == (2, 4)
    assert np.all(got[:, 0] == 1.0)                            # nothing ablated: its own predictions
    np.testing.assert_allclose(P.ablation_curve(cfg, state, layer, x, y, fr, orders=2, seed=7, batch=64, device="cpu"), got)
    c = model.widths[3]
    for o in range(2):
        perm = np.random.default_rng([7, o]).permutation(c)
        for k, f in enumerate(fr):
            drop = torch.as_tensor(perm[:int(round(f * c))], dtype=torch.long)

            def hook(mod, args, out, drop=drop):
                out = out.clone()
                out[:, drop] = 0
                return out
            h = model.stages[layer - 1].register_forward_hook(hook)
            with torch.no_grad():
                want = np.mean(model(torch.as_tensor(x)).argmax(1).numpy() == y)
            h.remove()
            assert got[o, k] == pytest.approx(want)
    # everything zeroed: the rest of the net sees one constant input, one prediction for all
    with torch.no_grad():
        z = torch.zeros((1, c) + tuple(model.stages[layer - 1](model.stages[layer - 2](
            model.stages[layer - 3](model.stages[layer - 4](torch.as_tensor(x[:1]))))).shape[2:]))
        pred = int(model.forward_from(layer, z).argmax(1))
    assert got[0, -1] == pytest.approx(np.mean(y == pred))


# ---------------------------------------------------------------- clustering and statistics

def _block_matrix(sizes, within, between, rng, noise=0.01):
    lab = np.repeat(np.arange(len(sizes)), sizes)
    d = np.where(lab[:, None] == lab[None, :], within, between) + noise * rng.random((len(lab), len(lab)))
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0)
    return d, lab


@pytest.mark.parametrize("on", ["matrix", "profile"])
def test_cluster_labels_recovers_separated_groups(on):
    rng = np.random.default_rng(5)
    d, lab = _block_matrix([4, 6, 5], 0.2, 0.8, rng)
    perm = rng.permutation(len(lab))
    got = P.cluster_labels(d[np.ix_(perm, perm)], 3, on=on)
    assert P.adjusted_rand(got, lab[perm]) == pytest.approx(1.0)
    assert got[0] == 0 and set(got) == {0, 1, 2}
    assert list(dict.fromkeys(got)) == [0, 1, 2]               # numbered by first appearance


def test_profile_clustering_groups_a_diffuse_set_that_direct_linkage_splits():
    """Items 0-4 are far from everything, each other included (0.9), but alike in how they relate
    to the others (0.6 to every other item); items 5-14 are a tight group (0.2)."""
    rng = np.random.default_rng(6)
    n = 15
    lab = np.array([0] * 5 + [1] * 10)
    d = np.full((n, n), 0.6)
    d[:5, :5] = 0.9
    d[5:, 5:] = 0.2
    d += 0.01 * rng.random((n, n))
    d = 0.5 * (d + d.T)
    np.fill_diagonal(d, 0)
    assert P.adjusted_rand(P.cluster_labels(d, 2, on="profile"), lab) == pytest.approx(1.0)
    assert P.adjusted_rand(P.cluster_labels(d, 2, on="matrix"), lab) < 0.5
    with pytest.raises(ValueError, match="on"):
        P.cluster_labels(d, 2, on="rows")


def test_adjusted_rand_matches_sklearn_and_invariances():
    from sklearn.metrics import adjusted_rand_score
    rng = np.random.default_rng(7)
    for _ in range(20):
        a, b = rng.integers(0, 3, 30), rng.integers(0, 4, 30)
        assert P.adjusted_rand(a, b) == pytest.approx(adjusted_rand_score(a, b), abs=1e-12)
    a = rng.integers(0, 3, 30)
    assert P.adjusted_rand(a, (a + 1) % 3) == pytest.approx(1.0)      # relabelled: identical partition
    assert P.adjusted_rand(a, np.where(a == 0, 10, a)) == pytest.approx(1.0)


def test_eta_squared_closed_forms_and_anova():
    v = np.array([1.0, 1.0, 5.0, 5.0, 5.0])
    assert P.eta_squared(v, [0, 0, 1, 1, 1]) == pytest.approx(1.0)
    assert P.eta_squared([1.0, 2.0, 1.0, 2.0], [0, 0, 1, 1]) == pytest.approx(0.0)
    assert P.eta_squared(np.ones(4), [0, 1, 0, 1]) == 0.0
    rng = np.random.default_rng(8)
    lab = np.repeat([0, 1, 2], 7)
    x = rng.standard_normal(21) + 0.8 * lab
    e = P.eta_squared(x, lab)
    f = (e / 2) / ((1 - e) / (21 - 3))                              # one-way ANOVA F from eta^2
    assert f == pytest.approx(f_oneway(*[x[lab == g] for g in range(3)]).statistic)


def test_permutation_pvalue():
    lab = np.repeat([0, 1, 2], 10)         # a relabelling reproduces the split with probability ~1e-12
    x = lab * 10.0 + np.arange(30) * 0.01
    assert P.permutation_pvalue(P.eta_squared, x, lab, n=200) == pytest.approx(1 / 201)
    rng = np.random.default_rng(9)
    p = P.permutation_pvalue(P.eta_squared, rng.standard_normal(30), lab, n=200)
    assert 0.02 < p <= 1.0
