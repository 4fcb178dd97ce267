"""bench.chart_input: a smoke run (every figure printed with numbers; no timing asserted)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench.ceiling_probes import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
TIME = re.compile(r"^\d+ / \d+ / \d+ ms$")


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_quick_run_prints_each_figure_with_numbers() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.chart_input", "--rounds", "1", "--clients", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = {
        cells[1]: cells[2:4]
        for line in run.stdout.splitlines()
        if line.startswith("| ") and len(cells := [c.strip() for c in line.split("|")]) == 5
    }
    for drawn in rows["every chart drawn"]:  # untouched, clicked
        assert TIME.match(drawn), rows
    assert TIME.match(rows["longest wait of a click while they were drawn"][1]), rows
    # The clicks were made while the charts were drawn: the figure is about something.
    assert int(rows["clicks while they were drawn"][1].split()[0]) >= 1, rows
