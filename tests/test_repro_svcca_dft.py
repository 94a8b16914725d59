"""paper_repro SVCCA Fig 6 / Fig 7 (DFT CCA): the mathematics the two figure modules add --
the class-logit similarity (DC-only DFT CCA = multiple correlation with the channel means), the
class choice from a confusion matrix, the claim statistics, the depth matching, and that the
fastcca.torch recording is keyed to the right layers."""
from __future__ import annotations

import numpy as np
import pytest

import fastcca
from paper_repro.figures import svcca_fig6 as f6
from paper_repro.figures import svcca_fig7 as f7


def _multiple_r(a: np.ndarray, y: np.ndarray) -> float:
    """sqrt(R^2) of the least-squares fit of y on the columns of a, intercept included."""
    design = np.column_stack([np.ones(len(a)), a])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    return float(np.sqrt(1.0 - resid @ resid / np.sum((y - y.mean()) ** 2)))


def _conv_map_and_logit(seed=0, n=400, c=5, h=6, w=4):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    y = x.mean(axis=(2, 3)) @ rng.standard_normal(c) + 0.3 * x[:, 0, 1, 2] + 0.5 * rng.standard_normal(n)
    return x, y


def test_logit_similarity_is_multiple_correlation_with_channel_means():
    x, y = _conv_map_and_logit()
    r = f6.logit_similarity(x, y)
    assert r == pytest.approx(_multiple_r(x.mean(axis=(2, 3)), y), abs=1e-9)
    assert r == pytest.approx(fastcca.cca(x.mean(axis=(2, 3)), y[:, None]).similarity, abs=1e-9)


def test_logit_similarity_of_dense_layer_is_its_multiple_correlation():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((300, 7))
    y = a @ rng.standard_normal(7) + rng.standard_normal(300)
    assert f6.logit_similarity(a, y) == pytest.approx(_multiple_r(a, y), abs=1e-9)
    # a logit that is a linear function of the layer reads exactly 1 (top of the published image)
    assert f6.logit_similarity(a, a @ rng.standard_normal(7) + 2.0) == pytest.approx(1.0, abs=1e-9)


def test_logit_similarity_sees_only_dc_so_any_spatial_rearrangement_is_invisible():
    x, y = _conv_map_and_logit(seed=2)
    rng = np.random.default_rng(3)
    n, c, h, w = x.shape
    # a different random rearrangement of positions per image (the same for every channel)
    perm = np.stack([rng.permutation(h * w) for _ in range(n)])
    xs = np.take_along_axis(x.reshape(n, c, h * w), perm[:, None, :], axis=2).reshape(x.shape)
    assert f6.logit_similarity(xs, y) == pytest.approx(f6.logit_similarity(x, y), abs=1e-9)
    # ... and invariant to an invertible mixing of the channels and scaling of the logit
    mix = rng.standard_normal((c, c)) + 3 * np.eye(c)
    xm = np.einsum("dc,nchw->ndhw", mix, x)
    assert f6.logit_similarity(xm, -4.0 * y + 1.0) == pytest.approx(f6.logit_similarity(x, y), abs=1e-7)  # eps ridge


def test_as_map_rejects_other_ranks():
    assert f6.as_map(np.zeros((3, 4))).shape == (3, 4, 1, 1)
    with pytest.raises(ValueError, match="expected a"):
        f6.as_map(np.zeros((3, 4, 5)))


def test_soft_confusion_by_hand():
    probs = np.array([[0.8, 0.2, 0.0], [0.6, 0.4, 0.0], [0.1, 0.7, 0.2], [0.0, 0.5, 0.5]])
    labels = np.array([0, 0, 1, 2])
    s = f6.soft_confusion(probs, labels, 3)
    raw = np.array([[0.7, 0.3, 0.0], [0.1, 0.7, 0.2], [0.0, 0.5, 0.5]])
    want = 0.5 * (raw + raw.T)
    np.fill_diagonal(want, 0)
    np.testing.assert_allclose(s, want)


def test_pick_classes_two_disjoint_most_confused_pairs_and_least_confused_class():
    k = 10
    c = np.full((k, k), 0.01)
    np.fill_diagonal(c, 0)
    c[3, 5] = c[5, 3] = 0.9           # pair 1
    c[3, 8] = c[8, 3] = 0.8           # overlaps pair 1: must be skipped
    c[1, 7] = c[7, 1] = 0.5           # pair 2
    c[6, :] = c[:, 6] = 0.001         # least confused overall
    c[6, 6] = 0
    pick = f6.pick_classes(c)
    assert pick["pair_1"] == [3, 5] and pick["pair_2"] == [1, 7] and pick["distinct"] == 6
    assert pick["order"] == [3, 5, 1, 7, 6]
    with pytest.raises(ValueError, match="at least 5"):
        f6.pick_classes(np.zeros((4, 4)))


def test_informative_layers_stop_at_first_saturated_layer_and_skip_input():
    fa = np.array([[0.1, 0.1], [0.5, 0.7], [0.995, 0.98], [0.999, 0.995], [0.5, 0.6], [1.0, 1.0]])
    assert f6.informative_layers(fa, ["in", "a", "b", "c", "d", "e"], 0.99) == [1, 2]
    assert f6.informative_layers(fa[:3], ["in", "a", "b"], 0.99) == [1, 2]


def test_claim_stats_closed_form():
    # 3 layers, 6 classes; the five of the figure are classes 0..4 in order
    fa = np.array([[0.5, 0.5, 0.2, 0.3, 0.9, 0.1],
                   [0.6, 0.4, 0.3, 0.3, 0.9, 0.2],
                   [0.7, 0.7, 0.4, 0.3, 0.9, 0.3]])
    st = f6.claim_stats(fa[:, :5], fa, [0, 1, 2, 3, 4], [0, 1, 2])
    assert st["distinct_gap"] == pytest.approx(0.9 - np.mean(fa[:, :4]))
    assert st["within_pair_gaps"] == pytest.approx([0.2 / 3, 0.2 / 3])
    gaps = [np.mean(np.abs(fa[:, i] - fa[:, j])) for i in range(6) for j in range(i + 1, 6)]
    assert st["all_pairs_gap_median"] == pytest.approx(np.median(gaps))
    assert st["distinct_rank_of_all"] == 1
    # class 0 as the distinct one: means 0.6, 0.533, 0.3, 0.3, 0.9, 0.2 -> 2nd
    assert f6.claim_stats(fa[:, [1, 2, 3, 4, 0]], fa, [1, 2, 3, 4, 0], [0, 1, 2])["distinct_rank_of_all"] == 2
    conf = -np.array([[np.mean(np.abs(fa[:, i] - fa[:, j])) for j in range(6)] for i in range(6)])
    assert f6.claim_stats(fa[:, :5], fa, [0, 1, 2, 3, 4], [0, 1, 2], conf)["confusion_vs_gap_spearman"] \
        == pytest.approx(-1.0)


def test_depth_matched_nearest_relative_depth():
    np.testing.assert_allclose(f7.relative_depth(4), [0.25, 0.5, 0.75, 1.0])
    v = np.arange(12.0).reshape(4, 3)       # rows at depths .25 .5 .75 1, columns at 1/3 2/3 1
    cols, vals, depth = f7.depth_matched(v)
    assert cols.tolist() == [0, 1, 1, 2]    # 0.5 is nearer to 2/3 than to 1/3; 0.75 nearer to 2/3
    np.testing.assert_allclose(vals, v[[0, 1, 2, 3], [0, 1, 1, 2]])
    np.testing.assert_allclose(depth, [0.25, 0.5, 0.75, 1.0])
    assert f7.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_fig7_recording_is_keyed_to_the_right_layers():
    """rec.grid over stages.i equals conv_svcca / conv_cca of layer_outputs' layer i + 1 (the
    names the figure prints are the layers it measured)."""
    torch = pytest.importorskip("torch")
    from paper_repro.classifiers import layer_outputs
    from paper_repro.models import build
    torch.manual_seed(0)
    specs = [{"name": "resnet", "width": 4, "blocks": 1, "in_channels": 1},
             {"name": "svcca_convnet", "width": 4, "fc": 8, "in_channels": 1, "image": 8}]
    models = [build(s).eval() for s in specs]
    x = np.random.default_rng(0).random((120, 1, 8, 8)).astype(np.float32)
    layers = [f7.conv_layers(m, x) for m in models]
    assert [n for _, n in layers[0]] == ["conv", "r1.1", "r2.1", "r3.1", "bn"]
    assert [n for _, n in layers[1]] == ["c1", "c2", "bn1", "p1", "c3", "c4", "c5", "bn2", "p2"]
    rec = f7._record(models, layers, x, 50, "cpu")
    grid = rec.grid(measure="svcca", keep=0.99).values
    cgrid = rec.grid(measure="cca").values
    outs = [layer_outputs({"model": s}, m.state_dict(), x, device="cpu") for s, m in zip(specs, models)]
    names = [list(m.layer_names) for m in models]
    for i, j in [(0, 0), (2, 5), (4, 8), (1, 3)]:
        a = outs[0][names[0].index(layers[0][i][1])]
        b = outs[1][names[1].index(layers[1][j][1])]
        assert grid[i, j] == pytest.approx(fastcca.conv_svcca(a, b, mode="fft", keep=0.99).similarity, abs=1e-8)
        assert cgrid[i, j] == pytest.approx(fastcca.conv_cca(a, b, mode="fft").similarity, abs=1e-8)


def test_fig6_streamed_moments_equal_one_shot_similarity():
    """logit_moments (chunks of images, ConvMoments per layer and class) == logit_similarity of
    the whole arrays, for conv and dense layers; softmax_outputs in chunks == layer_outputs' "out"."""
    torch = pytest.importorskip("torch")
    from paper_repro.classifiers import layer_outputs
    from paper_repro.models import build
    torch.manual_seed(1)
    spec = {"name": "resnet", "width": 4, "blocks": 1, "in_channels": 1}
    model = build(spec).eval()
    tcfg = {"model": spec}
    x = np.random.default_rng(1).random((150, 1, 8, 8)).astype(np.float32)
    outs = layer_outputs(tcfg, model.state_dict(), x, device="cpu")
    names = list(model.layer_names)
    keep, i_log = [names.index(n) for n in ("conv", "r2.1", "bn", "pool")], names.index("logits")
    mom = f6.logit_moments(tcfg, model.state_dict(), x, keep, i_log, [2, 7], batch=40, device="cpu")
    got = f6._sims(mom)
    for r, i in enumerate(keep):
        for k, c in enumerate([2, 7]):
            assert got[r][k] == pytest.approx(f6.logit_similarity(outs[i], outs[i_log][:, c]), abs=1e-9)
    assert got[keep.index(names.index("pool"))] == pytest.approx([1.0, 1.0], abs=1e-9)  # logits linear in pool
    probs = f6.softmax_outputs(tcfg, model.state_dict(), x, 64, device="cpu")
    np.testing.assert_allclose(probs, outs[names.index("out")], atol=1e-6)
