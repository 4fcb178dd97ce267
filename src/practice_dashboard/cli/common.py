"""What every command shares: the database, the acting account, error exits, owner-only files.

Exit status: 0 done; 1 the command was refused or failed (nothing was written); 2 stays
typer's own for a malformed command line. Heavy modules (SQLAlchemy, the services) are
imported inside the functions, so `practice-dashboard --help` never loads them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn

import typer

if TYPE_CHECKING:
    from practice_dashboard.config import Settings
    from practice_dashboard.db import DbSession, SessionFactory
    from practice_dashboard.errors import AppError
    from practice_dashboard.models import User

STDOUT = "-"


def fail(message: str) -> NoReturn:
    """Print `error: message` on standard error and exit with status 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


def fail_with(exc: AppError) -> NoReturn:
    """Exit on a refused operation: each field problem on its own line, named as an option."""
    from practice_dashboard.errors import Invalid

    if isinstance(exc, Invalid):
        for problem in exc.problems:
            field = ".".join(str(part) for part in problem["loc"][1:]).replace("_", "-")
            typer.echo(f"error: --{field}: {problem['msg']}", err=True)
        raise typer.Exit(code=1)
    fail(exc.detail)


@contextmanager
def refusals_reported() -> Iterator[None]:
    """Turn an AppError raised inside the block into an error exit (see `fail_with`)."""
    from practice_dashboard.errors import AppError

    try:
        yield
    except AppError as exc:
        fail_with(exc)


@contextmanager
def open_database(settings: Settings) -> Iterator[SessionFactory]:
    """The configured database with the caseload-summary hooks installed; closed at exit."""
    from practice_dashboard.db import create_db_engine, create_session_factory
    from practice_dashboard.services.analytics import summary

    engine = create_db_engine(settings)
    try:
        factory = create_session_factory(engine)
        # Writes from the CLI keep the caseload summaries current, as the app's writes do.
        summary.install(factory, settings)
        yield factory
    finally:
        engine.dispose()


@contextmanager
def unit_of_work(settings: Settings) -> Iterator[DbSession]:
    """One `session_scope` on the configured database: commit on success, else roll back."""
    from practice_dashboard.db import session_scope

    with open_database(settings) as factory, session_scope(factory) as db:
        yield db


def find_user(db: DbSession, email: str, *, active_only: bool = True) -> User:
    """The account with this e-mail (any letter case), or an error exit naming it."""
    from practice_dashboard.services.accounts import user as user_service

    user = user_service.get_by_email(db, email)
    if user is None or (active_only and not user.is_active):
        fail(f"no {'active ' if active_only else ''}account with e-mail {email}")
    return user


def write_owner_only(path: Path, content: bytes | str | Iterable[str]) -> None:
    """Write a file readable by its owner only (0600): exports hold clinical data.

    The bytes go to a new temporary file beside the target, created 0600 with O_EXCL, and
    are renamed over the target at the end: the file is never readable by others, not even
    while being written or when it replaces a world-readable one, and a failed export leaves
    no half file. Text is UTF-8 with line endings untouched (CSV brings its own CRLF).
    """
    if path.exists() and not path.is_file():  # /dev/stdout, a pipe: nothing to create
        with path.open("wb") as stream:
            _write_pieces(stream, content)
        return
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        # mkstemp asks for 0600; a umask can only take bits away, so set it exactly.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            _write_pieces(handle, content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_pieces(stream: BinaryIO, content: bytes | str | Iterable[str]) -> None:
    if isinstance(content, bytes):
        stream.write(content)
    elif isinstance(content, str):
        stream.write(content.encode("utf-8"))
    else:
        for piece in content:
            stream.write(piece.encode("utf-8"))


def save(out: Path | str, content: bytes | str | Iterable[str]) -> None:
    """Write an export to `out` (owner-only) or, for `-`, to standard output."""
    if str(out) == STDOUT:
        pieces = [content] if isinstance(content, bytes | str) else content
        for piece in pieces:
            typer.echo(piece, nl=False)
        return
    try:
        write_owner_only(Path(out), content)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
