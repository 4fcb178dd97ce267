"""A benchmark's quick run, as its smoke tests start it: its output, and the rows of its tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str, timeout: float) -> str:
    """`python -m bench.<args>` from the project's root; what it printed, once it succeeded."""
    run = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


def table_rows(output: str, cells: int) -> dict[str, list[str]]:
    """The Markdown table rows of `output` with more than `cells` cells (the two empty ends
    counted), by their first column: the cells after it, stripped."""
    return {
        row[1]: row[2:-1]
        for line in output.splitlines()
        if line.startswith("| ") and len(row := [c.strip() for c in line.split("|")]) > cells
    }
