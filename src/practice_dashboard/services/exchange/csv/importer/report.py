"""What an import found and did, and its problems in the words of a spreadsheet's reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from practice_dashboard.services.exchange.csv.reader import Problem, shown
from practice_dashboard.services.exchange.csv.spec import CsvKind

PROBLEM_LIMIT: Final = 1_000
_EXAMPLE_TIME: Final = "2026-03-01T14:30:00+00:00"


@dataclass
class ImportReport:
    """What an import found and did. `problems` lists the first `PROBLEM_LIMIT` problems."""

    kind: CsvKind
    filename: str | None
    dry_run: bool
    rows: int = 0
    new: int = 0
    already_present: int = 0
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    committed: bool = False
    clients: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def unlisted(self) -> int:
        return self.problem_count - len(self.problems)

    def summary(self) -> str:
        """One line for people: what was (or would be) written."""
        if self.committed:
            done = f"imported {self.new} new {self.kind.value}"
        elif self.ok:
            done = f"dry run: {self.new} new {self.kind.value} would be imported"
        else:
            done = f"nothing imported: {self.problem_count} problem(s)"
        return (
            f"{done}; {self.rows} data rows read, {self.already_present} already present, "
            f"{self.clients} client(s)"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "filename": self.filename,
            "dry_run": self.dry_run,
            "committed": self.committed,
            "rows": self.rows,
            "new": self.new,
            "already_present": self.already_present,
            "clients": self.clients,
            "problem_count": self.problem_count,
            "problems": [
                {"row": p.row, "column": p.column, "message": p.message} for p in self.problems
            ],
        }


def _message(error: ErrorDetails) -> str:
    """Pydantic's error in the words of a person reading their spreadsheet."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = shown(error.get("input", "")) if not isinstance(error.get("input"), dict) else ""
    if kind == "missing":
        return "is required"
    if kind == "timezone_aware":
        return f"needs a UTC offset, as in {_EXAMPLE_TIME}{got}"
    if kind.startswith("datetime"):
        return f"is not a date and time like {_EXAMPLE_TIME}{got}"
    if kind.startswith("date"):
        return f"is not a date like 2026-03-01{got}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}{got}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}{got}"
    if kind == "enum":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind == "uuid_parsing" or kind == "uuid_type":
        return f"is not a valid id (a UUID){got}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "too_long":
        return f"has too many entries (at most {ctx.get('max_length')})"
    if kind.startswith("bool"):
        return f"must be true or false{got}"
    if kind.startswith(("float", "int")):
        return f"is not a number{got}"
    return str(error["msg"]).removeprefix("Value error, ") + got


def problems_from(exc: ValidationError, row: int, prefix: str | None = None) -> list[Problem]:
    """A schema's validation errors as problems of `row` (all in column `prefix`, if given)."""
    problems = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        column = prefix or (str(loc[0]) if loc else None)
        message = _message(error)
        index = loc[1] if len(loc) > 1 and not prefix else None
        if isinstance(index, int):
            message = f"entry {index + 1} {message}"
        problems.append(Problem(row, column, message))
    return problems


def field_problems(row: int, problems: list[tuple[tuple[str, ...], str]]) -> list[Problem]:
    """A record service's (field, message) problems as problems of `row`."""
    return [Problem(row, loc[0] if loc else None, message) for loc, message in problems]
