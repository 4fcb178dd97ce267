"""`practice-dashboard backup` and `restore`: consistent backups that restore and verify."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from practice_dashboard.cli.common import fail

if TYPE_CHECKING:
    from practice_dashboard.services.backup import BackupSummary, RestoreCheck


def backup(
    out: Annotated[
        Path, typer.Argument(help="The file to write (SQLite: add .gz to compress)", dir_okay=False)
    ],
) -> None:
    """Back up the database while the app runs (SQLite online backup; PostgreSQL pg_dump)."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.services import backup as backups

    with _failures_reported():
        summary = backups.backup(get_settings(), out)
    _print_backup(summary)


def restore(
    source: Annotated[
        Path, typer.Argument(metavar="IN", help="A file written by `backup`", dir_okay=False)
    ],
) -> None:
    """Restore a backup into the configured database, which must be empty, then verify it."""
    from practice_dashboard.config import get_settings
    from practice_dashboard.services import backup as backups

    with _failures_reported():
        check = backups.restore(get_settings(), source)
    _print_restore(check)


@contextmanager
def _failures_reported() -> Iterator[None]:
    """A refusal, a file that cannot be written or read, or a database that does not answer:
    one `error:` line instead of a traceback."""
    from sqlalchemy.exc import OperationalError

    from practice_dashboard.services.backup import BackupError

    try:
        yield
    except BackupError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use {exc.filename or 'a file'}: {exc.strerror}")
    except OperationalError as exc:
        fail(f"cannot use the database: {exc.orig}")


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(
        f"{name} {count}" for name, count in counts.items() if name != "alembic_version"
    )


def _print_backup(summary: BackupSummary) -> None:
    typer.echo(
        f"backed up {summary.engine} to {summary.path} ({summary.size_bytes:,} bytes, "
        "readable by its owner only)"
    )
    typer.echo(
        f"schema revision {summary.revision}, app version {summary.app_version}, "
        f"taken at {summary.taken_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    typer.echo(f"rows: {_counts_line(summary.counts)}")


def _print_restore(check: RestoreCheck) -> None:
    if check.problems:
        for problem in check.problems:
            typer.echo(f"error: {problem}", err=True)
        fail("the restored database failed its checks: do not serve it")
    typer.echo(f"restored schema revision {check.revision}; integrity and foreign keys checked")
    typer.echo(f"rows: {_counts_line(check.counts)}")
    if check.needs_migrate:
        typer.echo(
            f"the backup's schema is older than this app's ({check.head}): "
            "run `practice-dashboard migrate` before serving"
        )
