"""Each rule is written once: no module outside its home restates it.

A guard for merges and new code: writing a rule a second time should fail here, pointing to
the one place to import it from.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "practice_dashboard"

# (what, pattern of a restated copy, the one file allowed to hold it)
RULES = [
    ("minutes between two times", r"total_seconds\(\)\s*/\s*60", "domain/facts.py"),
    ("instrument short name", r'\.name\.split\(" \("\)', None),
    ("instrument short name", r'"phq9":\s*"PHQ-9"', None),
    ("flag order", r'\{"safety":\s*0\}|\{"alert":\s*0,\s*"watch":\s*1\}', None),
    ("level rank", r'\{"watch":\s*1,\s*"alert":\s*2\}', "domain/flags.py"),
    ("due sessions", r"Attendance\.NO_SHOW,\s*Attendance\.LATE_CANCEL\}", "domain/facts.py"),
    ("homework scores", r"HomeworkCompletion\.PARTIAL:\s*0?\.5", "domain/facts.py"),
    ("stale data flag name", r'"Stale data"', None),
    ("reliable change words", r'"improved":\s*"reliable improvement"', "domain/labels.py"),
    ("trend words", r'"no_clear_trend":\s*"no clear trend"', "domain/labels.py"),
]


@pytest.mark.parametrize(("what", "pattern", "home"), RULES, ids=[r[0] for r in RULES])
def test_rule_is_written_once(what: str, pattern: str, home: str | None) -> None:
    found = sorted(
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if re.search(pattern, path.read_text(encoding="utf-8"))
    )
    assert found == ([home] if home else []), f"{what} restated outside its home: {found}"
