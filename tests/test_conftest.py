"""Which tests the PostgreSQL leg leaves to the SQLite leg (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "tests/domain/test_stats.py",  # pure analytics
    "tests/cli/test_worker_pool.py",  # marked: real servers, the same on either engine
    "tests/services/reports/test_pdf.py",  # the PDF browser, and two tests through the app
    "tests/migrations/test_migrations.py",  # makes its own databases (tests.databases)
    "tests/cli/test_backup.py",  # the same, for backups and restores
    "tests/api/test_clients.py",  # the app on the run's database
]


# Collects MODULES (nothing is run) and names each test kept, and each left out.
COLLECT = """
import sys, pytest
class LeftOut:
    def pytest_deselected(self, items):
        print("".join(f"left out {item.nodeid}\\n" for item in items))
arguments = ["-q", "-p", "no:cacheprovider", "--collect-only", *sys.argv[1:]]
sys.exit(pytest.main(arguments, plugins=[LeftOut()]))
"""


def collected() -> tuple[set[str], set[str]]:
    """Node ids the PostgreSQL leg keeps and leaves out of MODULES."""
    environment = {**os.environ, "TEST_DATABASE": "postgresql"}
    environment["TEST_ENGINE_INDEPENDENT_ELSEWHERE"] = "1"
    listing = subprocess.run(
        [sys.executable, "-c", COLLECT, *MODULES],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    left_out = {line.removeprefix("left out ") for line in listing if line.startswith("left out ")}
    kept = {line for line in listing if "::" in line and not line.startswith("left out ")}
    return kept, left_out


def test_the_postgresql_leg_leaves_out_only_what_cannot_reach_a_database() -> None:
    kept, left_out = collected()
    every = kept | left_out

    def in_module(ids: set[str], module: str) -> set[str]:
        return {i for i in ids if i.startswith(module + "::")}

    assert kept
    assert left_out
    assert not kept & left_out
    # Nothing of the analytics reaches a database; the worker pool is marked as not minding.
    for module in MODULES[:2]:
        assert in_module(every, module), module
        assert in_module(left_out, module) == in_module(every, module), module
    # The PDF browser's own tests are left out; the two that use the app's settings stay.
    assert {i.rsplit("::", 1)[1] for i in in_module(kept, MODULES[2])} == {
        "test_a_browser_that_cannot_start_is_a_clean_failure",
        "test_the_app_stops_its_browser_when_it_shuts_down",
    }
    # Whatever makes its own database, or uses the run's, runs on both engines.
    for module in MODULES[3:]:
        assert in_module(every, module), module
        assert not in_module(left_out, module), module
