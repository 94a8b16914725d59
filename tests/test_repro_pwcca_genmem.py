"""paper_repro.genmem (PWCCA Figs 3, A5, A9, A10): the cosine / Euclidean distances' definitions,
the pairs within and between the groups, the net configs, the representation (channel means
over positions, checked against fastcca.torch's conv="mean" capture) and the claim statistics."""
from __future__ import annotations

import numpy as np
import pytest

import fastcca
from paper_repro import genmem
from paper_repro.context import RunContext


# ---------------------------------------------------------------------------- cosine / Euclidean
def _loop_cosine(x, y):
    return np.mean([1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in zip(x, y)])


def test_cosine_distance_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 7))
    assert genmem.cosine_distance(x, x) == pytest.approx(0.0, abs=1e-12)
    assert genmem.cosine_distance(x, -x) == pytest.approx(2.0)
    # each datapoint's vectors rescaled by its own positive factor: unchanged
    assert genmem.cosine_distance(x, x * rng.uniform(0.1, 10, size=(50, 1))) == pytest.approx(0.0, abs=1e-12)
    # orthogonal vectors: 1
    e1, e2 = np.eye(2)[[0] * 5], np.eye(2)[[1] * 5]
    assert genmem.cosine_distance(e1, e2) == pytest.approx(1.0)
    y = rng.standard_normal((50, 7))
    assert genmem.cosine_distance(x, y) == pytest.approx(_loop_cosine(x, y), rel=1e-12)
    assert genmem.cosine_distance(x, y) == pytest.approx(genmem.cosine_distance(y, x), rel=1e-12)


def test_cosine_distance_zero_vectors():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    y = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 1.0]])
    # rows: both zero -> 0, identical -> 0, one zero -> 1
    assert genmem.cosine_distance(x, y) == pytest.approx(1.0 / 3)


def test_euclidean_distance_closed_forms():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 5)), rng.standard_normal((40, 5))
    want = np.mean(np.linalg.norm(x - y, axis=1)) / (0.5 * (np.linalg.norm(x, axis=1).mean()
                                                            + np.linalg.norm(y, axis=1).mean()))
    assert genmem.euclidean_distance(x, y) == pytest.approx(want, rel=1e-12)
    assert genmem.euclidean_distance(x, x) == 0.0
    assert genmem.euclidean_distance(x, np.zeros_like(x)) == pytest.approx(2.0)     # the maximum
    assert genmem.euclidean_distance(x, -x) == pytest.approx(2.0)
    assert genmem.euclidean_distance(np.zeros((3, 2)), np.zeros((3, 2))) == 0.0
    # relative: a common rescaling of both nets changes nothing; symmetric
    assert genmem.euclidean_distance(3 * x, 3 * y) == pytest.approx(genmem.euclidean_distance(x, y), rel=1e-12)
    assert genmem.euclidean_distance(y, x) == pytest.approx(genmem.euclidean_distance(x, y), rel=1e-12)
    assert genmem.euclidean_distance(x, y) <= 2.0


def test_cosine_euclidean_see_neuron_order_cca_does_not():
    """The reason Fig A5 differs from Fig 3: permuting one net's neurons changes the per-neuron
    metrics, not PWCCA / mean CCA (invariant to invertible linear maps of either side)."""
    rng = np.random.default_rng(2)
    x = np.abs(rng.standard_normal((300, 6))) + 0.1 * np.arange(6)
    perm = np.array([3, 5, 0, 1, 4, 2])
    assert genmem.cosine_distance(x, x[:, perm]) > 0.01
    assert genmem.euclidean_distance(x, x[:, perm]) > 0.01
    for name in ("pwcca", "mean_cca", "svcca"):
        f = genmem.cca_metrics([name])[name]
        assert f(x, x[:, perm]) == pytest.approx(0.0, abs=1e-6)


def test_metric_inputs_are_checked():
    with pytest.raises(ValueError, match="same shape"):
        genmem.cosine_distance(np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="same shape"):
        genmem.euclidean_distance(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="names"):
        genmem.cca_metrics(["cka"])


# ---------------------------------------------------------------------------- pairs and configs
@pytest.mark.parametrize("nets", [2, 3, 5])
def test_group_pairs(nets):
    p = genmem.group_pairs(nets)
    assert len(p["generalizing"]) == len(p["memorizing"]) == nets * (nets - 1) // 2
    assert len(p["inter"]) == nets ** 2
    for kind in ("generalizing", "memorizing"):
        assert all(i < j for i, j in p[kind])                       # unordered, never a net with itself
        assert len(set(p[kind])) == len(p[kind])
    assert set(p["inter"]) == {(i, j) for i in range(nets) for j in range(nets)}


def test_pair_reps_takes_each_net_from_its_group():
    reps = {"generalizing": ["g0", "g1", "g2"], "memorizing": ["m0", "m1", "m2"]}
    assert genmem.pair_reps(reps, "generalizing", (0, 2)) == ("g0", "g2")
    assert genmem.pair_reps(reps, "memorizing", (1, 2)) == ("m1", "m2")
    assert genmem.pair_reps(reps, "inter", (2, 0)) == ("g2", "m0")


@pytest.mark.parametrize("scale", ["tiny", "small", "paper"])
def test_run_configs(scale, tmp_path):
    ctx = RunContext(scale=scale, out=str(tmp_path), progress=False)
    nets = genmem.GENMEM_RUNS[scale]["nets"]
    cfgs = {g: [genmem.run_config(ctx, g, i) for i in range(nets)] for g in genmem.GROUPS}
    seeds = [c["seed"] for g in genmem.GROUPS for c in cfgs[g]]
    assert len(set(seeds)) == 2 * nets                 # every net its own init and batch order
    for c in cfgs["generalizing"]:
        assert not c["data"]["shuffled_labels"]
    for c in cfgs["memorizing"]:
        assert c["data"]["shuffled_labels"]
    a, b = dict(cfgs["generalizing"][0]), dict(cfgs["memorizing"][0])
    for d in (a, b):
        d.pop("seed"), d.pop("data")
    assert a == b                                      # otherwise the same training
    assert a["model"]["name"] == "pwcca_convnet"
    if scale == "paper":
        assert a["model"]["width_factor"] == 1.0 and a["batch_size"] == 32 and a["lr"] == 1e-3
        assert a["steps"] == 100 * 50000 // 32 and a["model"]["in_channels"] == 3
    with pytest.raises(ValueError, match="group"):
        genmem.run_config(ctx, "random", 0)


def test_analysis_labels_are_the_memorizing_nets_training_labels(tmp_path):
    from paper_repro.classifiers import image_data, training_labels
    ctx = RunContext(scale="small", out=str(tmp_path), progress=False)
    x, y, ys = genmem.analysis_images(ctx, True)
    _, y_all = image_data(ctx, train=True)
    assert np.array_equal(y, y_all)
    assert np.array_equal(ys, training_labels(genmem.run_config(ctx, "memorizing", 0), y_all))
    assert np.mean(ys == y) < 0.3                       # a real relabelling, class counts kept
    assert np.array_equal(np.bincount(ys), np.bincount(y))


# ---------------------------------------------------------------------------- representations
def test_representations_match_fastcca_torch_mean_capture():
    """The layer matrices of genmem (one forward pass, channel means) give the same PWCCA as
    fastcca.torch.record(..., conv="mean") streaming the same two nets' conv layers."""
    torch = pytest.importorskip("torch")
    from paper_repro.cache import state_dict_to_arrays, arrays_to_state_dict
    from paper_repro.models import build
    spec = {"name": "pwcca_convnet", "width_factor": 0.0625, "in_channels": 1}
    cfg = {"model": spec}
    rng = np.random.default_rng(4)
    x = rng.standard_normal((120, 1, 8, 8)).astype(np.float32)
    nets = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        m = build(spec)
        for mod in m.modules():                       # non-trivial BatchNorm statistics
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
        nets.append(m)
    states = [arrays_to_state_dict(state_dict_to_arrays(m.state_dict(), "s__"), "s__") for m in nets]
    ra, rb = (genmem.representations(cfg, s, x, batch=50, device="cpu") for s in states)
    assert [r.shape[1] for r in ra] == [1, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 10]
    assert np.allclose(ra[-1].sum(axis=1), 1.0)       # softmax
    layers = ["stages.1", "stages.5", "stages.10"]     # conv2, conv6, conv11
    loader = [(torch.as_tensor(x[i:i + 40]),) for i in range(0, len(x), 40)]
    from fastcca.torch import record
    rec = record(nets[0], layers, loader, model_b=nets[1], conv="mean", progress=False)
    for name, li in zip(layers, (2, 6, 11)):
        want = fastcca.pwcca(ra[li], rb[li]).distance
        got = fastcca.pwcca(rec.moments(("A", name), ("B", name))).distance
        assert got == pytest.approx(want, abs=1e-6)     # float32 nets: the means are taken in float32 there


# ---------------------------------------------------------------------------- claim statistics
def _fake(gen, mem, inter):
    n = len(genmem.LAYERS)
    mk = lambda v: {"mean": list(map(float, v)), "std": [0.0] * n}
    return {"layers": list(genmem.LAYERS),
            "distance": {"d": {"generalizing": mk(gen), "memorizing": mk(mem), "inter": mk(inter)}}}


def test_late_gaps_and_early_difference():
    n = len(genmem.LAYERS)
    gen = np.linspace(0, 0.4, n)
    mem = gen.copy()
    inter = gen.copy()
    late = [genmem.LAYERS.index(l) for l in genmem.LATE]
    mem[late] += 0.3
    inter[late] += 0.2
    early = genmem.LAYERS.index("conv2")
    inter[early] += 0.07
    d = _fake(gen, mem, inter)
    g = genmem.late_gaps(d, "d")
    assert g["mem_minus_gen"] == pytest.approx(0.3)
    assert g["inter_minus_gen"] == pytest.approx(0.2)
    assert g["abs_mem_minus_inter"] == pytest.approx(0.1)
    assert g["gap"] == pytest.approx(0.2)
    level = np.mean(gen[late] + 0.5 / 3)
    assert g["relative_gap"] == pytest.approx(0.2 / level)
    assert g["layers_gen_below_both"] == 1.0
    assert genmem.early_max_difference(d, "d") == pytest.approx(0.07)
    # generalizing above the others: negative gap, no layer below both
    g2 = genmem.late_gaps(_fake(mem, gen, gen), "d")
    assert g2["gap"] == pytest.approx(-0.3) and g2["layers_gen_below_both"] == 0.0
