"""CSV import: the files the CSV export writes (docs/csv-format.md), checked row by row.

One file holds one kind of record. The import is all-or-nothing: it streams the file
(`reader`), checks each row with the same Pydantic input schemas as the API plus the record
services' own rules (`rows`), finds duplicates in the file and the database (`keys`, `run`),
and writes valid rows in chunks (`bulk`) inside a savepoint of the caller's one transaction.
Any problem, or a dry run, rolls the savepoint back, so nothing is written; the report names
every problem by row (the header is row 1, as a spreadsheet numbers them) and column. The
audit event is written outside the savepoint, so failed and dry-run imports are audited too.

The bulk writes bypass the ORM, so the client summaries are refreshed here (`summary.refresh`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import IO

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession
from practice_dashboard.models.base import utcnow
from practice_dashboard.models.enums import Role
from practice_dashboard.services import audit
from practice_dashboard.services.analytics import summary
from practice_dashboard.services.audit import Actor
from practice_dashboard.services.exchange.csv.importer.keys import SeenKeys, natural_key
from practice_dashboard.services.exchange.csv.importer.report import PROBLEM_LIMIT, ImportReport
from practice_dashboard.services.exchange.csv.importer.run import CHUNK_ROWS, ImportRun, run
from practice_dashboard.services.exchange.csv.reader import MAX_RECORD_BYTES, CsvReader, Problem
from practice_dashboard.services.exchange.csv.spec import ENTITY, CsvKind


def import_csv(
    db: DbSession,
    *,
    actor: Actor,
    kind: CsvKind,
    stream: IO[bytes],
    settings: Settings,
    dry_run: bool,
    filename: str | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    problem_limit: int = PROBLEM_LIMIT,
    chunk_rows: int = CHUNK_ROWS,
    now: datetime | None = None,
) -> ImportReport:
    """Import one CSV file of `kind` as `actor`: everything or (on any problem) nothing.

    Runs in the caller's transaction (the caller commits: the request boundary or
    `session_scope`); the rows are written inside a savepoint that a dry run or a problem
    rolls back, while the audit event stays.
    """
    report = ImportReport(kind=kind, filename=filename, dry_run=dry_run)
    if actor.user.role == Role.ADMIN or not actor.user.is_active:
        why = "this account is not active" if not actor.user.is_active else "admin accounts"
        problem = Problem(0, None, f"{why} cannot import clinical records")
        report.problem_count = 1
        report.problems.append(problem)
        if on_problem is not None:
            on_problem(problem)
        _audit(db, actor, report, {})
        return report
    savepoint = db.begin_nested()
    try:
        work = ImportRun(
            db,
            actor=actor,
            kind=kind,
            report=report,
            on_problem=on_problem,
            problem_limit=problem_limit,
            chunk_rows=chunk_rows,
            now=now or utcnow(),
        )
        run(work, CsvReader(stream), on_progress)
        report.clients = len(work.per_client)
        if report.ok and not dry_run:
            savepoint.commit()
            report.committed = True
        else:
            savepoint.rollback()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    _audit(db, actor, report, work.per_client)
    if report.committed:
        changed = sorted(cid for cid, (new, _present) in work.per_client.items() if new)
        if changed:
            summary.refresh(db, changed, settings=settings)
    return report


def _audit(
    db: DbSession, actor: Actor, report: ImportReport, per_client: Mapping[uuid.UUID, list[int]]
) -> None:
    """One event for the import, and one per client whose records it read or wrote."""
    action = "import" if report.committed else "import_dry_run" if report.ok else "import_refused"
    entity = ENTITY[report.kind]
    # Never the uploaded file's name: it can carry a client's name, and admins read this log.
    audit.record(
        db,
        actor,
        action,
        entity,
        detail=(
            f"csv: {report.rows} rows, {report.new} new, "
            f"{report.already_present} already present, {report.problem_count} problems"
        ),
    )
    for client_id, (new, present) in sorted(per_client.items()):
        if report.kind == CsvKind.CLIENTS and not (report.committed and new):
            continue  # a client that was not written has no row for the event to point at
        audit.record(
            db,
            actor,
            action,
            entity,
            client_id=client_id,
            detail=f"csv: {new} new, {present} already present",
        )


__all__ = [
    "CHUNK_ROWS",
    "MAX_RECORD_BYTES",
    "PROBLEM_LIMIT",
    "CsvKind",
    "ImportReport",
    "Problem",
    "SeenKeys",
    "import_csv",
    "natural_key",
]
