"""The documentation's figure gallery (``docs/gallery.md`` and ``docs/gallery/*.png``), regenerated
from the outputs of ``python -m paper_repro ...``.

    python -m paper_repro all --out paper_repro_out          # or any subset of figures
    python -m paper_repro.gallery --from paper_repro_out     # -> docs/gallery.md, docs/gallery/

Each figure's PNG is downscaled (at most ``--width`` pixels wide) and stored with a 256-colour
palette, so the committed files stay small (tens of KB each); the published image of the same
figure, where google/svcca published one (``../shared/papers/reference_images/``, Apache-2.0), is
stored beside it the same way.  The page lists every figure of both papers in the papers' order,
with its claim check as the run recorded it (``<id>.json``) and the scale and seed it ran at;
figures missing from ``--from`` are listed as not in this gallery run, never drawn from elsewhere.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import registry

ROOT = Path(__file__).resolve().parents[1]

#: published images (google/svcca, Apache-2.0) of the figures that have one
REFERENCE_IMAGES = {
    "svcca-fig4": ("dynamics_plots_crop.png",),
    "svcca-fig6": ("Imagenet_class_similarity.png",),
    "pwcca-fig3": ("gen_mem_dist_layerwise_input_output.png",),
    "pwcca-fig6": ("PTB_Learning_Dynamics_CCA_Similarity-1.png",
                   "WT2_Deeper_LSTM_Learning_Dynamics_CCA_Similarity-1.png"),
}


def shrink_png(src: Path, dst: Path, width: int) -> int:
    """Write ``src`` downscaled to at most ``width`` pixels wide as a 256-colour PNG; its size."""
    from PIL import Image
    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im = im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_suffix(".tmp.png")
        im.save(tmp, optimize=True)
        os.replace(tmp, dst)
    return dst.stat().st_size


def _claim_line(record: dict) -> str:
    chk = record.get("claim_check", {})
    verdict = "holds" if chk.get("holds") else "does not hold"
    return (f"Claim: {chk.get('claim', '?')} -- **{verdict}** at scale `{record.get('scale')}`, "
            f"seed {record.get('seed')}.")


def build(src: Path, docs: Path, reference: Path, width: int = 900, ref_width: int = 700) -> dict:
    """Regenerate the gallery page and its images; returns ``{"figures": [...], "missing": [...],
    "bytes": total size of the images written}``."""
    assets = docs / "gallery"
    assets.mkdir(parents=True, exist_ok=True)
    for old in assets.glob("*.png"):   # a figure not in this run must not keep a stale image
        old.unlink()
    lines = ["# Gallery", "",
             "Every figure of both papers as `python -m paper_repro` draws it, beside the published image",
             "where google/svcca published one (Apache-2.0; S Fig 4, S Fig 6, P Fig 3, P Fig 6). What each",
             "figure computes and how it compares: [figure notes](paper-repro-groups.md). Regenerate this",
             "page with `python -m paper_repro.gallery --from paper_repro_out` after running the figures.", ""]
    done, missing, total = [], [], 0
    for paper, title in registry.PAPERS.items():
        lines += [f"## {title}", ""]
        for fig_id, what in registry.CATALOG.items():
            if not fig_id.startswith(paper + "-"):
                continue
            png, js = src / f"{fig_id}.png", src / f"{fig_id}.json"
            lines += [f"### {fig_id}", "", f"*{what}*", ""]
            if not (png.is_file() and js.is_file()):
                missing.append(fig_id)
                lines += [f"Not in this gallery run: `python -m paper_repro {fig_id}` draws it.", ""]
                continue
            record = json.loads(js.read_text())
            total += shrink_png(png, assets / f"{fig_id}.png", width)
            lines += [_claim_line(record), ""]
            refs = [name for name in REFERENCE_IMAGES.get(fig_id, ()) if (reference / name).is_file()]
            if refs:
                for name in refs:
                    total += shrink_png(reference / name, assets / f"published-{name}", ref_width)
                published = " ".join(f"![published: {name}](gallery/published-{name})" for name in refs)
                lines += ["| paper_repro (this run) | published (google/svcca) |", "|---|---|",
                          f"| ![{fig_id}](gallery/{fig_id}.png) | {published} |", ""]
            else:
                lines += [f"![{fig_id}](gallery/{fig_id}.png)", ""]
            done.append(fig_id)
    if missing:
        lines += ["## Not in this gallery run", "", ", ".join(f"`{m}`" for m in missing), ""]
    (docs / "gallery.md").write_text("\n".join(lines).rstrip() + "\n")
    return {"figures": done, "missing": missing, "bytes": total}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m paper_repro.gallery", description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="src", default="paper_repro_out", help="paper_repro's --out folder")
    ap.add_argument("--docs", default=str(ROOT / "docs"), help="the documentation folder")
    ap.add_argument("--reference", default=str(ROOT.parent / "shared" / "papers" / "reference_images"),
                    help="the published images")
    ap.add_argument("--width", type=int, default=900, help="largest width of a figure, pixels")
    args = ap.parse_args(argv)
    out = build(Path(args.src), Path(args.docs), Path(args.reference), args.width)
    print(f"gallery: {len(out['figures'])} figures, {len(out['missing'])} missing, "
          f"{out['bytes'] / 1024:.0f} KiB of images in {Path(args.docs) / 'gallery'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
