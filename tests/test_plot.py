"""fastcca.plot renders what it is given: image data equal to the matrix, labelled axes, a
labelled colour bar, one curve per layer; files are real PNGs."""
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from fastcca.grid import SimilarityMatrix  # noqa: E402
from fastcca.plot import heatmap, heatmaps, layer_curves  # noqa: E402


@pytest.fixture
def grid():
    v = np.array([[1.0, 0.8, 0.3], [0.7, 0.95, 0.5]])
    return SimilarityMatrix("svcca", ("conv1", "fc"), ("conv1", "conv2", "fc"), v,
                            row_title="layer at 35%", column_title="layer at end", n=100)


def test_heatmap_image_labels_colorbar_and_png(grid, tmp_path):
    fig = heatmap(grid, annotate=True)
    ax = fig.axes[0]
    np.testing.assert_array_equal(np.asarray(ax.images[0].get_array()), grid.values)
    assert ax.get_xlabel() == "layer at end" and ax.get_ylabel() == "layer at 35%"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "conv2", "fc"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["conv1", "fc"]
    assert ax.get_title() == "svcca similarity"
    cbar_ax = fig.axes[1]
    assert cbar_ax.get_ylabel() == "svcca similarity"
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{v:.2f}" for v in grid.values.ravel())
    path = tmp_path / "grid.png"
    fig.savefig(path, dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = plt.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    plt.close(fig)


def test_heatmap_distance_and_given_axes(grid):
    fig, ax = plt.subplots()
    out = heatmap(grid, ax, distance=True, colorbar=False)
    assert out is fig and len(fig.axes) == 1
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), 1 - grid.values)
    assert ax.get_title() == "svcca distance"
    plt.close(fig)


def test_heatmaps_panes(grid):
    fig = heatmaps([grid, grid], titles=["0%", "100%"])
    panes = [a for a in fig.axes if a.images]
    assert [a.get_title() for a in panes] == ["0%", "100%"]
    for a in panes:
        np.testing.assert_array_equal(np.asarray(a.images[0].get_array()), grid.values)
    assert len(fig.axes) == 3                        # two panes and one shared colour bar
    with pytest.raises(ValueError, match="titles"):
        heatmaps([grid], titles=["a", "b"])
    plt.close("all")


def test_layer_curves(tmp_path):
    v = np.array([[0.5, 0.8, 1.0], [0.2, 0.6, 1.0]])
    m = SimilarityMatrix("pwcca", ("layer1", "layer2"), ("1", "5", "10"), v, row_title="layer",
                         column_title="epoch")
    fig = layer_curves(m, distance=True)
    ax = fig.axes[0]
    assert [l.get_label() for l in ax.get_lines()] == ["layer1", "layer2"]
    for line, row in zip(ax.get_lines(), v):
        np.testing.assert_allclose(line.get_xdata(), [1, 5, 10])
        np.testing.assert_allclose(line.get_ydata(), 1 - row)
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "pwcca distance"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer1", "layer2"]
    fig.savefig(tmp_path / "curves.png", dpi=40)
    assert (tmp_path / "curves.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="positions"):
        layer_curves(m, x=[0, 1])
    m2 = SimilarityMatrix("cca", ("a",), ("start", "end"), np.array([[0.1, 0.9]]))
    fig2 = layer_curves(m2)
    np.testing.assert_allclose(fig2.axes[0].get_lines()[0].get_xdata(), [0, 1])
    plt.close("all")
