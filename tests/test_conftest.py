"""Which tests the PostgreSQL leg leaves to the SQLite leg (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "tests/domain/test_stats.py",  # pure analytics
    "tests/services/reports/test_pdf.py",  # the PDF browser, and two tests through the app
    "tests/migrations/test_migrations.py",  # makes its own databases (tests.databases)
    "tests/cli/test_backup.py",  # the same, for backups and restores
    "tests/api/test_clients.py",  # the app on the run's database
]


def collected(elsewhere: str) -> set[str]:
    """Node ids collected from MODULES on the PostgreSQL leg (nothing is run)."""
    environment = {**os.environ, "TEST_DATABASE": "postgresql"}
    environment["TEST_ENGINE_INDEPENDENT_ELSEWHERE"] = elsewhere
    listing = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--collect-only",
            *MODULES,
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line for line in listing.splitlines() if "::" in line}


def test_the_postgresql_leg_leaves_out_only_what_cannot_reach_a_database() -> None:
    every, kept = collected("0"), collected("1")
    left_out = every - kept

    def in_module(ids: set[str], module: str) -> set[str]:
        return {i for i in ids if i.startswith(module + "::")}

    assert kept < every
    # Nothing of the analytics reaches a database.
    assert in_module(left_out, MODULES[0]) == in_module(every, MODULES[0])
    # The PDF browser's own tests are left out; the two that use the app's settings stay.
    assert {i.rsplit("::", 1)[1] for i in in_module(kept, MODULES[1])} == {
        "test_a_browser_that_cannot_start_is_a_clean_failure",
        "test_the_app_stops_its_browser_when_it_shuts_down",
    }
    # Whatever makes its own database, or uses the run's, runs on both engines.
    for module in MODULES[2:]:
        assert in_module(every, module), module
        assert not in_module(left_out, module), module
