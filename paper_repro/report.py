"""The seeds table of ``docs/paper-claims.md`` from the JSON the runs wrote.

``python -m paper_repro.report OUT_SEED0 OUT_SEED1 OUT_SEED2 [--only ID ...]`` reads ``<id>.json``
from each output folder (one folder per ``--seed``, e.g. ``python -m paper_repro all --seed 1
--out OUT_SEED1``) and prints a markdown table: per figure, the seeds whose claim check holds,
the headline paper-vs-ours row (:meth:`paper_repro.claims.ClaimCheck.summary`) of every seed,
and the wall and CPU seconds of each run.  Nothing is recomputed; a missing JSON shows as "-".
"""
from __future__ import annotations

import argparse
import json
import os

from . import registry
from .claims import NO_NUMBER, ClaimCheck, _fmt


def load(folder: str, fig_id: str) -> dict | None:
    path = os.path.join(folder, f"{fig_id}.json")
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        return json.load(fh)


def seeds_table(folders: list, ids: list | None = None) -> str:
    """The markdown table (module docstring) for the runs in ``folders`` (one per seed): per
    figure the seeds that hold, the headline comparison row (the quantity, the paper's value and
    source, ours at each seed) and each run's wall / CPU seconds."""
    ids = ids or list(registry.CATALOG)
    lines = ["| figure | holds at seeds | quantity (headline row) | paper | ours, per seed | wall / CPU s, per seed |",
             "|---|---|---|---|---|---|"]
    for fig_id in ids:
        recs = [load(f, fig_id) for f in folders]
        seeds, ours, times, head = [], [], [], None
        for rec in recs:
            if rec is None:
                ours.append("-")
                times.append("-")
                continue
            chk = ClaimCheck.from_dict(rec["claim_check"])
            if chk.holds:
                seeds.append(str(rec["seed"]))
            row = chk.comparison[0] if chk.comparison else None
            head = head or row
            ours.append(_fmt(row["ours"]) if row else ("holds" if chk.holds else "fails"))
            t = rec["timing"]
            times.append(f"{t['total_s']:.0f} / {t['cpu_s']:.0f}")
        n_run = sum(r is not None for r in recs)
        paper = "-" if head is None else (NO_NUMBER if head["paper"] is None else _fmt(head["paper"])) + (
            f" ({head['source']})" if head and head.get("source") and head["paper"] is not None else "")
        cell = lambda v: str(v).replace("|", "\\|")
        lines.append(f"| {fig_id} | {len(seeds)} of {n_run} ({', '.join(seeds) or 'none'}) | "
                     f"{cell(head['quantity']) if head else '-'} | {cell(paper)} | "
                     f"{cell(' ; '.join(ours))} | {'; '.join(times)} |")
    return "\n".join(lines)


def sections(folders: list, ids: list | None = None) -> str:
    """Per figure a markdown section: the claim, the statistic and how it decides (from the first
    seed's check), then per seed the verdict and every paper-vs-ours row."""
    out = []
    for fig_id in ids or list(registry.CATALOG):
        recs = [r for r in (load(f, fig_id) for f in folders) if r is not None]
        if not recs:
            continue
        first = ClaimCheck.from_dict(recs[0]["claim_check"])
        out += [f"### {fig_id}", "", f"- **Claim**: {first.claim}", f"- **Statistic**: {first.statistic}"]
        for rec in recs:
            chk = ClaimCheck.from_dict(rec["claim_check"])
            rows = "; ".join(chk.comparison_lines()) or "no comparison rows"
            out.append(f"- **Seed {rec['seed']}**: {chk.verdict()} -- {rows}")
        out.append("")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m paper_repro.report", description=__doc__.split("\n\n")[0])
    p.add_argument("folders", nargs="+", help="output folders, one per seed")
    p.add_argument("--only", nargs="*", default=None, help="figure ids (default: all)")
    p.add_argument("--sections", action="store_true", help="per-figure sections instead of the table")
    args = p.parse_args(argv)
    print(sections(args.folders, args.only) if args.sections else seeds_table(args.folders, args.only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
