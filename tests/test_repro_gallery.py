"""paper_repro.gallery: the docs' gallery page and its images come from paper_repro outputs only."""
import json

import numpy as np
import pytest

PIL = pytest.importorskip("PIL.Image")

from paper_repro import gallery, registry  # noqa: E402


def _png(path, w, h, seed=0):
    rgb = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    PIL.fromarray(rgb).save(path)


def test_gallery_from_outputs(tmp_path):
    src, docs, ref = tmp_path / "out", tmp_path / "docs", tmp_path / "ref"
    for d in (src, docs / "gallery", ref):
        d.mkdir(parents=True)
    _png(src / "svcca-fig4.png", 1600, 900)
    (src / "svcca-fig4.json").write_text(json.dumps(
        {"scale": "small", "seed": 3, "claim_check": {"claim": "bottom-up", "holds": False}}))
    _png(src / "pwcca-fig2.png", 500, 300)            # no JSON: not a complete output
    _png(ref / "dynamics_plots_crop.png", 2000, 1000, seed=1)
    _png(docs / "gallery" / "stale.png", 10, 10)      # from an earlier run

    out = gallery.build(src, docs, ref, width=800, ref_width=600)

    assert out["figures"] == ["svcca-fig4"]
    assert set(out["missing"]) == set(registry.CATALOG) - {"svcca-fig4"}
    assert not (docs / "gallery" / "stale.png").exists()
    with PIL.open(docs / "gallery" / "svcca-fig4.png") as im:
        assert im.mode == "P" and im.size == (800, 450)
    with PIL.open(docs / "gallery" / "published-dynamics_plots_crop.png") as im:
        assert im.size == (600, 300)
    page = (docs / "gallery.md").read_text()
    assert "**does not hold** at scale `small`, seed 3" in page
    assert "(gallery/svcca-fig4.png)" in page and "(gallery/published-dynamics_plots_crop.png)" in page
    assert "Not in this gallery run: `python -m paper_repro pwcca-fig2`" in page
    assert out["bytes"] == sum(p.stat().st_size for p in (docs / "gallery").glob("*.png"))
