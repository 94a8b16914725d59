"""paper_repro.report: the seeds table and sections of docs/paper-claims.md, read back from the
JSON of real (tiny) runs; and the one-line summary each figure ends with."""
from __future__ import annotations

import json
import os

from paper_repro.claims import NO_NUMBER, ClaimCheck, vs
from paper_repro.context import RunContext
from paper_repro.report import main, sections, seeds_table
from paper_repro.runner import run_figure


def test_table_and_sections_from_the_runs_json(tmp_path, capsys):
    folders = []
    for seed in (0, 1):
        out = str(tmp_path / f"s{seed}")
        run_figure("svcca-figA1", RunContext(scale="tiny", out=out, seed=seed, progress=False))
        folders.append(out)
    folders.append(str(tmp_path / "empty"))                          # a seed that did not run
    holds = [json.load(open(os.path.join(f, "svcca-figA1.json")))["claim_check"]["holds"] for f in folders[:2]]
    table = seeds_table(folders, ["svcca-figA1", "pwcca-fig2"])
    row = next(l for l in table.splitlines() if l.startswith("| svcca-figA1 |"))
    assert f"| {sum(holds)} of 2 (" in row and "smallest canonical correlation" in row and row.endswith("; - |")
    assert row.count(" ; ") == 2 and "(Raghu et al. 2017, Fig A1)" in row     # ours at 3 seeds, the paper's source
    assert "| pwcca-fig2 | 0 of 0 (none) |" in table
    text = sections(folders, ["svcca-figA1"])
    assert text.startswith("### svcca-figA1") and "**Seed 0**" in text and "**Seed 1**" in text
    assert "smallest canonical correlation" in text                 # the check's comparison row
    assert main(folders[:1] + ["--only", "svcca-figA1"]) == 0
    assert "| svcca-figA1 |" in capsys.readouterr().out


def test_comparison_rows_and_summary_line():
    chk = ClaimCheck(claim="c", statistic="s", measured={"r": -0.9}, holds=True, scale="small",
                     comparison=(vs("r(accuracy, distance)", -0.96, -0.91, "Fig 4b"), vs("order", None, "a < b")))
    lines = chk.comparison_lines()
    assert lines == ["r(accuracy, distance): paper -0.96 (Fig 4b) | ours -0.91", f"order: paper {NO_NUMBER} | ours a < b"]
    assert chk.summary() == "claim HOLDS at scale 'small' -- " + lines[0]
    assert ClaimCheck.from_dict(json.loads(json.dumps(chk.to_dict()))) == chk
    assert "paper vs ours: r(accuracy, distance)" in str(chk)
