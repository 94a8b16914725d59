"""One progress bar per figure over all its stages, and the one-line summary each figure ends with."""
from __future__ import annotations

import json
import re

from paper_repro.cli import main
from paper_repro.progress import FigureProgress


def test_stages_add_up_on_one_bar():
    bar = FigureProgress("fig", enabled=False)
    with bar.stage("train", 10) as st:
        for _ in range(10):
            st.update()
    assert list(bar.track(["a", "b", "c"], "pairs")) == ["a", "b", "c"]
    with bar.stage("cut short", 5) as st:
        st.update(2)
    assert [(s.desc, s.total, s.done) for s in bar.stages] == [("train", 10, 10), ("pairs", 3, 3), ("cut short", 5, 2)]


def test_enabled_bar_total_follows_the_stages(capsys):
    bar = FigureProgress("svcca-figX", enabled=True)
    with bar.stage("train", 4) as st:
        st.update(4)
    with bar.stage("pairs", 6) as st:
        st.update(2)                                   # stops early: the 4 never done leave the total
    assert bar._bar.total == 6 and bar._bar.n == 6
    bar.close()
    assert "svcca-figX | pairs" in capsys.readouterr().err


def test_cli_one_bar_per_figure_and_a_summary_line(tmp_path, capsys):
    assert main(["svcca-fig1", "pwcca-fig2", "--scale", "tiny", "--out", str(tmp_path)]) == 0
    cap = capsys.readouterr()
    for fig_id in ("svcca-fig1", "pwcca-fig2"):
        summary = [l for l in cap.out.splitlines() if l.startswith(f"{fig_id}: claim ")]
        assert len(summary) == 1, cap.out
        assert re.search(r"claim (HOLDS|DOES NOT HOLD) at scale 'tiny'.* \| [\d.]+ s wall, [\d.]+ s CPU, 1 thread",
                         summary[0]), summary[0]
        assert f"{fig_id} | " in cap.err                # the figure's bar, named by its stage
    rec = json.load(open(tmp_path / "svcca-fig1.json"))
    stages = rec["timing"]["stages"]
    assert [s["stage"] for s in stages] == ["toy net 1/2", "toy net 2/2"]      # both toy nets trained
    assert all(s["units"] == s["done"] > 0 for s in stages)
    assert main(["svcca-fig1", "--scale", "tiny", "--out", str(tmp_path), "--quiet"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out.strip().splitlines()[-1].startswith("svcca-fig1: claim ")
