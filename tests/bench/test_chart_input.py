"""bench.chart_input: a smoke run (every figure printed with numbers; no timing asserted)."""

from __future__ import annotations

import re
import shutil

import pytest
from bench.ceiling_probes import CHROMIUM

from tests.bench.quick import run_bench, table_rows

TIME = re.compile(r"^\d+ / \d+ / \d+ ms$")


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_quick_run_prints_each_figure_with_numbers() -> None:
    output = run_bench("bench.chart_input", "--rounds", "1", "--clients", "1", timeout=300)
    rows = table_rows(output, 4)
    for drawn in rows["every chart drawn"]:  # untouched, clicked
        assert TIME.match(drawn), rows
    assert TIME.match(rows["longest wait of a click while they were drawn"][1]), rows
    # The clicks were made while the charts were drawn: the figure is about something.
    assert int(rows["clicks while they were drawn"][1].split()[0]) >= 1, rows
