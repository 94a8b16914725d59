"""fastcca.torch: streamed grids equal the measures on fully collected activations; hooks,
modes and gradients are left as found; bad input gives clear errors."""
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastcca  # noqa: E402
from fastcca.torch import compare_checkpoints, compare_layers, record  # noqa: E402
from conftest import to_host  # noqa: E402

N, BATCH = 1200, 128
LAYERS = ["0", "1", "2", "3", "4"]
ONE_PAIR = {
    "svcca": lambda x, y: fastcca.svcca(x, y).similarity,
    "cca": lambda x, y: fastcca.cca(x, y).similarity,
    "pwcca": lambda x, y: fastcca.pwcca(x, y).similarity,
    "linear_cka": lambda x, y: fastcca.linear_cka(x, y).similarity,
}


def mlp(seed):
    # input 24 > 10 + 10: the first layers of two nets share no exact subspace, so no canonical
    # correlation is 1 by construction (a multiple rho = 1 leaves PWCCA's weights ill-posed)
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(24, 10), torch.nn.Tanh(), torch.nn.Linear(10, 8),
                               torch.nn.Tanh(), torch.nn.Linear(8, 5))


def convnet(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Tanh(),
                               torch.nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.nn.Tanh())


def loader(n=N, shape=(24,), seed=0, batch=BATCH):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n,) + shape, generator=g)
    y = torch.zeros(n, dtype=torch.long)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch)


def collect(model, layers, data, reshape=lambda t: t):
    """Every hooked output, in full, the plain way (the reference the streamed result must match)."""
    named = dict(model.named_modules())
    store = {n: [] for n in layers}
    hs = [named[n].register_forward_hook(lambda m, a, o, n=n: store[n].append(reshape(o).numpy().copy()))
          for n in layers]
    model.eval()
    with torch.no_grad():
        for x, _ in data:
            model(x)
    for h in hs:
        h.remove()
    return {n: np.concatenate(v) for n, v in store.items()}


@pytest.fixture(scope="module")
def two_models():
    a, b, data = mlp(0), mlp(1), loader()
    return a, b, data, collect(a, LAYERS, data), collect(b, LAYERS, data)


@pytest.mark.parametrize("measure", list(ONE_PAIR))
def test_streamed_grid_equals_collected_activations(two_models, measure):
    a, b, data, xa, xb = two_models
    g = compare_layers(a, data, LAYERS, model_b=b, measure=measure, progress=False)
    ref = np.array([[ONE_PAIR[measure](xa[r], xb[c]) for c in LAYERS] for r in LAYERS])
    np.testing.assert_allclose(g.values, ref, rtol=0, atol=1e-10)
    assert g.rows == g.columns == tuple(LAYERS) and g.n == N
    assert g.row_title == "layer (A)" and g.column_title == "layer (B)"


def test_one_model_grid_is_symmetric_with_unit_diagonal(two_models):
    a, _, data, xa, _ = two_models
    for measure in ("svcca", "cca"):
        g = compare_layers(a, data, LAYERS, measure=measure, progress=False)
        np.testing.assert_allclose(g.values, g.values.T, atol=1e-12)
        np.testing.assert_allclose(np.diag(g.values), 1.0, atol=1e-9)
    rec = record(a, LAYERS, data, progress=False)
    assert rec.moments("1", "3").n == N
    r = fastcca.pwcca(rec.moments("1", "3"), variant="reference")
    assert r.similarity == pytest.approx(fastcca.pwcca(xa["1"], xa["3"], variant="reference").similarity, abs=1e-10)


@pytest.mark.parametrize("mode,reshape", [
    ("flatten", lambda t: t.reshape(t.shape[0], -1)),
    ("mean", lambda t: t.mean(dim=(2, 3))),
    ("fold", lambda t: t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])),
])
def test_conv_modes_equal_reshaped_activations(mode, reshape):
    net, data = convnet(0), loader(n=600, shape=(3, 8, 8), batch=100)
    layers = ["2", "3"] if mode == "flatten" else ["0", "1"]
    full = collect(net, layers, data, reshape)
    g = compare_layers(net, data, layers, conv=mode, measure="svcca", progress=False)
    ref = [[fastcca.svcca(full[r], full[c]).similarity for c in layers] for r in layers]
    np.testing.assert_allclose(g.values, ref, atol=1e-10)
    assert g.n == len(full[layers[0]])


def test_conv_fold_different_sizes_and_fft():
    net, data = convnet(0), loader(n=200, shape=(3, 8, 8), batch=100)
    rec = record(net, ["1", "3"], data, conv="fold", progress=False)
    assert rec.n == {("fold", 8, 8): 200 * 64, ("fold", 4, 4): 200 * 16}
    with pytest.raises(ValueError, match="different datapoints"):
        rec.grid()
    g = rec.grid(["1"], ["1"])
    assert g.values[0, 0] == pytest.approx(1.0, abs=1e-9)
    # per-layer modes: fold one, mean the other
    rec = record(net, ["1", "3"], data, conv={"1": "mean"}, progress=False)
    assert rec.layers[("A", "1")].features == 4 and rec.layers[("A", "3")].features == 6 * 16
    assert record(net, ["1"], data, conv="fft", progress=False).fft.n == 200   # wired since: see the fft tests
    with pytest.raises(ValueError, match="conv"):
        record(net, ["1"], data, conv="dft", progress=False)


class Boom(torch.nn.Module):
    """Raises on its third call; records the train flag it saw."""
    def __init__(self):
        super().__init__()
        self.calls, self.seen_training = 0, []

    def forward(self, x):
        self.calls += 1
        self.seen_training.append(self.training)
        if self.calls == 3:
            raise RuntimeError("boom")
        return x


def test_hooks_removed_and_mode_restored_after_exception():
    net = torch.nn.Sequential(torch.nn.Linear(24, 6), torch.nn.Dropout(0.5), Boom())
    net.train()
    net[0].eval()                                     # a mixed state must come back exactly
    with pytest.raises(RuntimeError, match="boom"):
        record(net, ["0", "1"], loader(), progress=False)
    assert all(not m._forward_hooks for m in net.modules())
    assert net.training and not net[0].training and net[1].training and net[2].training
    assert net[2].seen_training == [False, False, False]     # ran in eval mode
    net[2].calls = -100
    record(net, ["0"], loader(), progress=False)             # works again afterwards
    assert all(not m._forward_hooks for m in net.modules())
    assert net.training and not net[0].training


def test_no_gradients_kept():
    net = mlp(0)
    rec = record(net, LAYERS, loader(), progress=False, eval_mode=False)
    assert all(p.grad is None for p in net.parameters())
    assert all(p.requires_grad for p in net.parameters())
    assert net.training                                        # eval_mode=False: untouched
    jm = rec.joint("1")
    assert isinstance(jm.scatter, np.ndarray) and jm.scatter.dtype == np.float64


def test_clear_errors():
    net = mlp(0)
    with pytest.raises(ValueError, match=r"no module named 'fc1'; close names: \['1'\]; the model's modules: \['0', '1', '2', '3', '4'\]"):
        record(net, ["fc1"], loader(), progress=False)
    named = torch.nn.Sequential()
    named.add_module("encoder_conv1", torch.nn.Linear(24, 4))
    named.add_module("encoder_conv2", torch.nn.Linear(4, 4))
    with pytest.raises(ValueError, match=r"close names: \['encoder_conv1'"):
        record(named, ["encoder_cnv1"], loader(), progress=False)
    with pytest.raises(ValueError, match="no layers"):
        record(net, [], loader(), progress=False)
    with pytest.raises(ValueError, match="yielded no batches"):
        record(net, LAYERS, [], progress=False)
    with pytest.raises(ValueError, match="same object"):
        record(net, LAYERS, loader(), model_b=net, progress=False)

    class TwoOut(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(24, 5, batch_first=True)

        def forward(self, x):
            return self.lstm(x[:, None, :])[0]
    m = TwoOut()
    with pytest.raises(TypeError, match=r"'lstm' \(LSTM\) returned a tuple of 2, not a tensor"):
        record(m, ["lstm"], loader(), progress=False)
    assert not m.lstm._forward_hooks

    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3))
    varying = [torch.randn(4, 3, 8, 8), torch.randn(4, 3, 10, 10)]
    with pytest.raises(ValueError, match=r"changed from \(2, 6, 6\) \(first batch\) to \(2, 8, 8\)"):
        record(conv, ["0"], varying, progress=False)

    unused = torch.nn.ModuleDict({"a": torch.nn.Linear(24, 3), "b": torch.nn.Linear(24, 3)})
    unused.forward = lambda x: unused["a"](x)
    with pytest.raises(RuntimeError, match="produced no output"):
        record(unused, ["a", "b"], [torch.randn(5, 24)], progress=False)

    shared = torch.nn.Linear(24, 24)
    twice = torch.nn.Sequential(shared, torch.nn.Tanh(), shared)
    with pytest.raises(RuntimeError, match="ran twice"):
        record(twice, ["0"], [torch.randn(5, 24)], progress=False)


def test_batch_forms_and_module_types(two_models):
    a, _, data, xa, _ = two_models
    tensors = [x for x, _ in data]
    dicts = [{"pixels": x, "label": y} for x, y in data]
    g_t = compare_layers(a, tensors, ["1", "3"], progress=False)
    g_d = compare_layers(a, dicts, ["1", "3"], input_index="pixels", progress=False)
    np.testing.assert_allclose(g_t.values, g_d.values, atol=1e-12)
    with pytest.raises(KeyError, match="input_index"):
        record(a, ["1"], dicts, progress=False)
    rec = record(a, [torch.nn.Tanh], data, progress=False, max_batches=3)
    assert list(rec.layers) == [("A", "1"), ("A", "3")]
    assert rec.joint("1").n == 3 * BATCH
    assert rec.grid().values.shape == (2, 2)


def test_checkpoint_grid_equals_per_state_collection(two_models, tmp_path):
    a, b, data, xa, xb = two_models
    c = mlp(2)
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": c.state_dict()}, path)
    states = [a.state_dict(), path, lambda: b.state_dict()]
    model = mlp(5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    layers = ["1", "3", "4"]
    g = compare_checkpoints(model, states, data, layers, labels=["10", "20", "30"], progress=False)
    xc = collect(c, layers, data)
    per_state = [xa, xc, xb]
    ref = np.array([[fastcca.svcca(per_state[t][nm], xb[nm]).similarity for t in range(3)] for nm in layers])
    np.testing.assert_allclose(g.values, ref, atol=1e-10)
    np.testing.assert_allclose(g.values[:, 2], 1.0, atol=1e-9)          # the reference itself
    assert g.rows == tuple(layers) and g.columns == ("10", "20", "30")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())   # untouched
    grids = compare_checkpoints(model, states, data, layers, pairs="all", measure="pwcca",
                                reference=a.state_dict(), progress=False)
    assert len(grids) == 3
    ref = [[fastcca.pwcca(xb[r], xa[cc]).similarity for cc in layers] for r in layers]
    np.testing.assert_allclose(grids[2].values, ref, atol=1e-10)
    assert grids[2].row_title == "layer at 2" and grids[2].column_title == "layer at reference"
    with pytest.raises(ValueError, match="cannot load"):
        bad = tmp_path / "bad.pt"
        bad.write_bytes(b"not a checkpoint")
        compare_checkpoints(model, [bad], data, layers, progress=False)


def test_import_guard_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import fastcca, fastcca.torch, fastcca.grid\n"
        "try:\n    fastcca.torch.record(None, ['x'], [])\n"
        "except ImportError as e:\n    print('ERR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "ERR fastcca.torch needs PyTorch" in out.stdout and "pip install 'fastcca[torch]'" in out.stdout
    out = subprocess.run([sys.executable, "-c", "import sys, fastcca; print('torch' in sys.modules, "
                          "'matplotlib' in sys.modules)"], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False False"


def test_recording_keys_two_models(two_models):
    a, b, data, xa, xb = two_models
    rec = record(a, ["1", "3"], data, model_b=b, layers_b=["3"], progress=False, max_batches=2)
    assert list(rec.layers) == [("A", "1"), ("A", "3"), ("B", "3")]
    assert rec.key("1") == ("A", "1")
    with pytest.raises(KeyError, match="several models"):
        rec.key("3")
    with pytest.raises(KeyError, match="not recorded"):
        rec.key("7")
    g = rec.grid([("A", "1"), ("B", "3")], [("A", "3")], measure="linear_cka")
    n = 2 * BATCH
    ref = [[fastcca.linear_cka(xa["1"][:n], xa["3"][:n]).similarity],
           [fastcca.linear_cka(xb["3"][:n], xa["3"][:n]).similarity]]
    np.testing.assert_allclose(g.values, ref, atol=1e-12)
    assert g.row_title == "layer" and g.column_title == "layer (A)"


# ---------------------------------------------------------------------------- conv="fft"
FFT_LAYERS = ["1", "3", "5"]          # tanh(conv 8x8, 4 ch), tanh(conv 4x4, 6 ch), tanh(conv 4x4, 5 ch)
FFT_ONE_PAIR = {"cca": fastcca.conv_cca, "svcca": fastcca.conv_svcca}


def fftnet(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.Tanh(),
                               torch.nn.Conv2d(4, 6, 3, stride=2, padding=1), torch.nn.Tanh(),
                               torch.nn.Conv2d(6, 5, 3, padding=1), torch.nn.Tanh(),
                               torch.nn.Flatten(), torch.nn.Linear(5 * 16, 7))


@pytest.fixture(scope="module")
def fft_setup():
    data = loader(n=300, shape=(3, 8, 8), batch=64)          # 5 batches, the last one short
    a, b = fftnet(0), fftnet(1)
    return a, b, data, collect(a, FFT_LAYERS + ["7"], data), collect(b, FFT_LAYERS, data)


@pytest.mark.parametrize("measure", ["cca", "svcca"])
def test_fft_grid_equals_conv_measures_on_collected_activations(fft_setup, measure):
    a, _, data, xa, _ = fft_setup
    g = compare_layers(a, data, FFT_LAYERS, conv="fft", measure=measure, progress=False)
    # 8x8 against 4x4 layers: the conv module's overlap of the low frequencies
    ref = [[FFT_ONE_PAIR[measure](xa[r], xa[c], mode="fft").similarity for c in FFT_LAYERS] for r in FFT_LAYERS]
    np.testing.assert_allclose(g.values, ref, rtol=0, atol=1e-10)
    assert g.n == 300 and g.params["conv"] == "fft"
    assert np.allclose(np.diag(g.values), 1.0) and 0.05 < g.values[0, 1] < 0.99


def test_fft_two_models_and_record_moments(fft_setup):
    a, b, data, xa, xb = fft_setup
    g = compare_layers(a, data, ["1", "3"], model_b=b, layers_b=["3", "5"], conv="fft", measure="svcca",
                       keep=6, progress=False)
    ref = [[fastcca.conv_svcca(xa[r], xb[c], keep=6).similarity for c in ["3", "5"]] for r in ["1", "3"]]
    np.testing.assert_allclose(g.values, ref, rtol=0, atol=1e-10)
    # the recording hands out the pair's ConvMoments: same as accumulating the pair alone
    rec = record(a, ["1", "3"], data, conv="fft", progress=False)
    m, ref_m = rec.moments("3", "1"), fastcca.ConvMoments.from_arrays(xa["3"], xa["1"])
    assert isinstance(m, fastcca.ConvMoments) and m.shape_x == (6, 4, 4) and m.shape_y == (4, 8, 8)
    for f in ("sxx", "syy", "sxy", "mean_x", "mean_y"):
        np.testing.assert_allclose(to_host(getattr(m, f)), to_host(getattr(ref_m, f)), rtol=0,
                                   atol=1e-12 * np.abs(to_host(getattr(ref_m, f))).max())
    # one model: the cross state of (1, 3) only ((3, 1) shares it; (l, l) needs none)
    assert [p for p in rec.fft.pairs if p[0] != p[1]] == [(("A", "1"), ("A", "3"))]
    assert rec.groups == {} and rec.n == {("fft",): 300}


def test_fft_checkpoints_equal_per_state_collection(fft_setup):
    a, b, data, xa, xb = fft_setup
    g = compare_checkpoints(a, [b.state_dict(), a.state_dict()], data, ["1", "5"], conv="fft", measure="cca",
                            progress=False)
    assert g.values.shape == (2, 2)
    for i, nm in enumerate(["1", "5"]):
        assert g.values[i, 0] == pytest.approx(fastcca.conv_cca(xb[nm], xa[nm]).similarity, abs=1e-10)
        assert g.values[i, 1] == pytest.approx(fastcca.conv_cca(xa[nm], xa[nm]).similarity, abs=1e-10)
        assert g.values[i, 1] == pytest.approx(1.0, abs=1e-8)      # 1 up to the eps ridge
    mats = compare_checkpoints(a, [b.state_dict(), a.state_dict()], data, ["1", "5"], conv="fft",
                               measure="svcca", pairs="all", progress=False)
    ref = [[fastcca.conv_svcca(xb[r], xa[c]).similarity for c in ["1", "5"]] for r in ["1", "5"]]
    np.testing.assert_allclose(mats[0].values, ref, rtol=0, atol=1e-10)


def test_fft_mixed_modes_rule(fft_setup):
    a, _, data, xa, _ = fft_setup
    # fft for the conv layers, default (flatten) for the dense one: conv x dense compares the dense
    # layer with the conv layer's DC frequency (the dense layer as a (p, 1, 1) map), i.e. CCA of the
    # conv layer's spatial mean; dense x dense is the ordinary joint-scatter CCA
    layers = ["1", "3", "7"]
    g = compare_layers(a, data, layers, conv={"1": "fft", "3": "fft"}, measure="cca", progress=False)
    dense = xa["7"][:, :, None, None]
    for i, nm in enumerate(["1", "3"]):
        dc = fastcca.conv_cca(xa[nm], dense).similarity
        assert g.values[i, 2] == pytest.approx(dc, abs=1e-10) and g.values[2, i] == pytest.approx(dc, abs=1e-10)
        # the DC-only fft pair is the 'mean' mode (the same CCA, rounded differently)
        assert dc == pytest.approx(fastcca.cca(xa[nm].mean(axis=(2, 3)), xa["7"]).similarity, abs=1e-6)
    assert g.values[0, 1] == pytest.approx(fastcca.conv_cca(xa["1"], xa["3"]).similarity, abs=1e-10)
    assert g.values[2, 2] == pytest.approx(fastcca.cca(xa["7"], xa["7"]).similarity, abs=1e-10)
    # an fft conv map against a conv map in another mode: an error naming both, before any value
    with pytest.raises(ValueError, match=r"\('A', '1'\) \(conv='fft'\) and \('A', '3'\) \(conv='mean'"):
        compare_layers(a, data, ["1", "3"], conv={"1": "fft", "3": "mean"}, measure="cca", progress=False)
    # record() leaves such pairs out by default and says so when one is asked for
    rec = record(a, ["1", "3"], data, conv={"1": "fft", "3": "mean"}, progress=False)
    with pytest.raises(ValueError, match="cannot be compared"):
        rec.grid(measure="cca")


def test_fft_clear_errors(fft_setup):
    a, _, data, _, _ = fft_setup
    for measure in ("pwcca", "linear_cka"):
        with pytest.raises(ValueError, match=rf"measure='{measure}' is not defined for conv='fft'.*"
                                             r"'svcca' or 'cca'.*conv='mean', 'fold' or 'flatten'"):
            compare_layers(a, data, ["1", "3"], conv="fft", measure=measure, progress=False)
        with pytest.raises(ValueError, match="not defined for conv='fft'"):
            compare_checkpoints(a, [a.state_dict()], data, ["1"], conv={"1": "fft"}, measure=measure,
                                progress=False)
    rec = record(a, ["1", "3", "5"], data, conv="fft", fft_pairs=[("1", "3")], progress=False)
    assert rec.pairs([("3", "1")], "cca")[0][0] == pytest.approx(rec.pairs([("1", "3")], "cca")[0][0], abs=1e-12)
    with pytest.raises(KeyError, match="not accumulated.*fft_pairs"):
        rec.pairs([("1", "5")], "cca")
    with pytest.raises(ValueError, match="not defined for conv='fft'"):
        rec.grid(["1"], ["3"], measure="pwcca")
    with pytest.raises(ValueError, match="recorded with conv='fft'"):
        rec.joint("1")
    with pytest.raises(ValueError, match="fft_pairs"):
        record(a, ["1"], data, conv="fft", fft_pairs="some", progress=False)
    vol = torch.nn.Sequential(torch.nn.Conv3d(1, 2, 1))
    with pytest.raises(ValueError, match=r"conv='fft' takes \(b, c, h, w\) or \(b, c, L\)"):
        record(vol, ["0"], [torch.randn(4, 1, 3, 3, 3)], conv="fft", progress=False)


def test_float32_precision_close_to_float64(two_models, fft_setup):
    a, b, data, _, _ = two_models
    for measure in ("svcca", "pwcca"):
        g64 = compare_layers(a, data, LAYERS, model_b=b, measure=measure, progress=False)
        g32 = compare_layers(a, data, LAYERS, model_b=b, measure=measure, precision="float32", progress=False)
        assert 0 < np.abs(g32.values - g64.values).max() < 1e-5
    fa, _, fdata, _, _ = fft_setup
    g64 = compare_layers(fa, fdata, FFT_LAYERS, conv="fft", measure="cca", progress=False)
    g32 = compare_layers(fa, fdata, FFT_LAYERS, conv="fft", measure="cca", precision="float32", progress=False)
    assert np.abs(g32.values - g64.values).max() < 1e-5
    with pytest.raises(ValueError, match="precision"):
        record(a, LAYERS, data, precision="half", progress=False)


def test_fft_conv1d_outputs_are_h_by_1_maps():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv1d(3, 4, 3, padding=1), torch.nn.Tanh(),
                              torch.nn.Conv1d(4, 5, 3, stride=2), torch.nn.Tanh())
    data = loader(n=200, shape=(3, 12), batch=64)
    full = collect(net, ["1", "3"], data)                       # (n, 4, 12), (n, 5, 5)
    g = compare_layers(net, data, ["1", "3"], conv="fft", measure="cca", progress=False)
    ref = fastcca.conv_cca(full["1"][..., None], full["3"][..., None]).similarity
    assert g.values[0, 1] == pytest.approx(ref, abs=1e-10)
