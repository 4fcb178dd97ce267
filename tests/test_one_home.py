"""Each rule is written once: no module outside its home restates it.

A guard for merges and new code: writing a rule a second time should fail here, pointing to
the one place to import it from. The patterns match the shapes the copies had before they
were removed (dicts, tuples, sets, inline ``.get`` defaults), wherever a module now lives.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "practice_dashboard"
TEMPLATES = ROOT / "templates"

FACTS = "domain/facts.py"
FLAGS = "domain/flags.py"
LABELS = "domain/labels.py"
CONVENTIONS = "domain/conventions.py"

# (what, pattern of a restated copy, the one file allowed to hold it)
RULES = [
    ("minutes between two times", r"total_seconds\(\)\s*/\s*60", FACTS),
    (
        "minutes between two timestamps",
        r"(baseline|recognized)_at\)*\s*-\s*[\w(.]*started_at\)*\s*/\s*60",
        None,
    ),
    ("instrument short name", r'\.name\.split\(" \("\)|def short_name\(', None),
    ("instrument short name", r'"(phq9|cbi)":\s*"(PHQ-9|CBI)"', None),
    ("flag order", r'\{"safety":\s*0\}|\{"alert":\s*0,\s*"watch":\s*1\}', None),
    ("level rank", r'\{"watch":\s*1,\s*"alert":\s*2\}', FLAGS),
    ("safety rank", r"SAFETY_RANK\s*(:[^=]*)?=(?!=)", FLAGS),
    ("flag names", r"d\.code:\s*d\.display_name", FLAGS),
    (
        "due sessions",
        r"Attendance\.ATTENDED,\s*Attendance\.NO_SHOW,\s*Attendance\.LATE_CANCEL,?\s*[)}]",
        FACTS,
    ),
    ("due sessions", r"counts\[Attendance\.NO_SHOW\]\s*\+", None),
    ("homework scores", r"HomeworkCompletion\.PARTIAL:\s*(0?\.5|50)\b", FACTS),
    ("clock slack", r"(SLACK|SKEW)\w*\s*(:[^=]*)?=\s*timedelta", FACTS),
    ("stale data flag name", r'"Stale data"', None),
    ("reliable change words", r'"reliable (improvement|deterioration)"', LABELS),
    ("trend words", r'"no clear trend"', LABELS),
    ("status words", r'"discharged":\s*"Discharged"', LABELS),
    ("attendance words", r'"(no-show|late cancel)"', LABELS),
    ("annotation kind words", r'"Change in care"', LABELS),
    ("zone words", r'"hyperarousal"', LABELS),
    ("zone words module", r"web\.vocabulary", None),
    ("durations in hours", r"/\s*60:\.1f\}", LABELS),
    ("reliable-change convention names", r'"NHS Talking Therapies"', CONVENTIONS),
    ("unverified threshold words", r'"reliable change threshold not yet verified', CONVENTIONS),
    ("measure remarks", r'"prorated total \(items missing\)"', LABELS),
]

# Where the code moved in the restructuring: the guard must read every one of these.
MOVED = [
    "domain/windows.py",
    "domain/attendance.py",
    "services/reports/progress_summary.py",
    "services/reports/supervision_packet.py",
    "services/reports/printing.py",
    "services/exchange/csv/export.py",
    "services/exchange/csv/spec.py",
    "services/exchange/csv/importer/rows.py",
    "web/printing.py",
    "web/charts/common.py",
    "web/charts/measures.py",
    "web/charts/recovery.py",
    "web/charts/engagement.py",
    "web/forms/registry.py",
    "web/routes/log_forms/common.py",
    "web/routes/log_forms/measure.py",
]


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize(("what", "pattern", "home"), RULES, ids=[r[0] for r in RULES])
def test_rule_is_written_once(what: str, pattern: str, home: str | None) -> None:
    found = sorted(
        path.relative_to(SRC).as_posix()
        for path in _modules()
        if re.search(pattern, path.read_text(encoding="utf-8"))
    )
    assert found == ([home] if home else []), f"{what} restated outside its home: {found}"


def test_the_guard_reads_the_modules_where_the_code_now_lives() -> None:
    scanned = {path.relative_to(SRC).as_posix() for path in _modules()}
    assert set(MOVED) <= scanned
    assert "web/vocabulary.py" not in scanned  # display words live in domain/labels.py


@pytest.mark.parametrize(
    ("what", "pattern"),
    [
        ("flag names from the flag_name global", r"Stale data|flag_labels"),
        ("instrument names from the instrument_name global", r"\b(PHQ-9|GAD-7|CBI)\b"),
    ],
)
def test_templates_take_names_from_their_homes(what: str, pattern: str) -> None:
    found = sorted(
        path.relative_to(TEMPLATES).as_posix()
        for path in TEMPLATES.rglob("*.html")
        if re.search(pattern, path.read_text(encoding="utf-8"))
    )
    assert found == [], f"{what}: {found}"
