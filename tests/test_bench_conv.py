"""asv_bench/bench_conv.py, the conv floor benchmark of issue [conv-perf]: its floor must time the
products of the very problem the measures solve, and its figures must be the ratios it says they
are (a smoke run at a tiny size; the speed itself is never asserted here)."""
import json

import numpy as np
import pytest

from asv_bench import bench_conv
from conftest import to_host
from fastcca import ConvMoments


@pytest.fixture(scope="module")
def pair():
    return bench_conv.conv_pair(40, 8, 8, 4)


@pytest.mark.parametrize("precision, rtol", [("float64", 1e-12), ("float32", 1e-6)])
def test_floor_products_are_the_scatter_of_the_measured_data(pair, precision, rtol):
    """The floor's block products, after one call, are the per-frequency scatter that
    ``ConvMoments`` accumulates from the same activations (float32 products: to their rounding)."""
    x, y = pair
    floor = bench_conv.Floor(x, y, precision)
    m = ConvMoments.from_arrays(x, y, backend="cpu")
    assert (m.exponent_x, m.exponent_y) == (0, 0)
    sxy = bench_conv.cpu.real_view_to_complex(floor.pxy)
    for got, want in ((floor.sxx, m.sxx), (floor.syy, m.syy), (sxy, m.sxy)):
        want = to_host(want)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=rtol * np.abs(want).max())


def test_decomposition_floor_times_each_measure(pair):
    floor = bench_conv.Floor(*pair, "float64")
    for measure in ("conv_cca", "conv_svcca"):
        t = floor.decompositions(measure)
        assert np.isfinite(t) and t > 0


def test_floor_section_figures_are_the_ratios_they_name(tmp_path, capsys):
    out = tmp_path / "conv.json"
    status = bench_conv.main(["--sizes", "40,8,8,4", "--repeats", "2", "--only", "floor", "--json", str(out)])
    rows = json.loads(out.read_text())["floor"]
    assert [r["precision"] for r in rows] == ["float64", "float32"]
    worst = 0.0
    for r in rows:
        med = r["medians_s"]
        assert all(v > 0 for v in med.values())
        runs = r["runs_s"]
        assert runs["floor"] == [a + b for a, b in zip(runs["fft"], runs["products"])]
        for m in ("conv_cca", "conv_svcca"):
            assert len(runs[m]) == len(runs["decompositions " + m]) == 2
            both = med["floor"] + med["decompositions " + m]
            assert r["ratio_of_medians"][m] == pytest.approx(med[m] / med["floor"])
            assert r["floor_plus_decompositions_over_floor"][m] == pytest.approx(both / med["floor"])
            assert r["floor_plus_decompositions_over_floor"][m] > 1
            assert r["ratio_to_floor_plus_decompositions"][m] == pytest.approx(med[m] / both)
            worst = max(worst, r["ratio_of_medians"][m])
        assert r["frequency_classes"] == 34            # 8 x 8: 8 x 5 rfft2 outputs, 6 conjugate twins
    # exit status 1 exactly when a ratio misses the target (a benchmark that can fail)
    assert status == int(worst > bench_conv.TARGET)
    capsys.readouterr()
    assert bench_conv.main(["--table", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| (40, 8, 8, 4) | float64 |" in table and "| (40, 8, 8, 4) | float32 |" in table
    assert "best reachable ratio (floor + decompositions) / floor" in table
