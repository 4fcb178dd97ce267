"""Run Alembic from code (the CLI, the app's start-up in docker, the tests).

Every `serve` starts with an upgrade to head, and nearly always the database is already there.
That case is answered with one query and a scan of the revision ids in the migration files,
without importing Alembic or running a migration module; anything else (an empty database, one
behind, an unknown revision, a branched history) goes through Alembic exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from practice_dashboard.db import reading_connection

if TYPE_CHECKING:
    from alembic.config import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VERSIONS_DIR = PROJECT_ROOT / "migrations" / "versions"

# The module-level assignments Alembic's script template writes in every revision file.
_REVISION = re.compile(r"""^revision(?:\s*:[^=\n]*)?\s*=\s*["']([0-9A-Za-z_]+)["']\s*$""", re.M)
_DOWN_REVISION = re.compile(
    r"""^down_revision(?:\s*:[^=\n]*)?\s*=\s*(?:None|["']([0-9A-Za-z_]+)["'])\s*$""", re.M
)


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


@lru_cache(maxsize=1)
def script_head() -> str | None:
    """The head of the project's migration files (see `head_in`), read once per process."""
    return head_in(VERSIONS_DIR)


def head_in(folder: Path) -> str | None:
    """The head revision id, read from the revision files' own `revision`/`down_revision` lines.

    None when the files do not read as one straight history (a merge revision's tuple, a file
    that is not a plain revision, several heads): the caller then leaves the answer to Alembic.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in folder.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision = _REVISION.findall(source)
        down = _DOWN_REVISION.findall(source)
        if len(revision) != 1 or len(down) != 1:
            return None
        revisions.add(revision[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def database_revision(engine: Engine) -> str | None:
    """The one revision stamped in `alembic_version`, or None (no table, no row, several rows).

    One SELECT, in a deferred transaction on SQLite, so the check takes no write lock.
    """
    try:
        with reading_connection(engine) as connection:
            rows = (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            )
    except DBAPIError:
        # No alembic_version table yet: a new database, which Alembic builds.
        return None
    return rows[0] if len(rows) == 1 else None


def is_current(engine: Engine) -> bool:
    """Whether the database stands at the migration files' head (one query, no Alembic import)."""
    head = script_head()
    return head is not None and database_revision(engine) == head


@contextmanager
def _migration_connection(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction; on SQLite with foreign keys off while it runs.

    SQLite's batch mode rebuilds a table to alter it (copy, drop, rename); with foreign keys on,
    dropping a referenced table would fail or cascade. The pragma only works outside a
    transaction, so it is set on the raw connection before the transaction begins, and the
    foreign keys are checked before the work is committed.
    """
    with engine.connect() as connection:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def upgrade(engine: Engine, revision: str = "head") -> None:
    if revision == "head" and is_current(engine):
        return
    from alembic import command

    with _migration_connection(engine) as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    with _migration_connection(engine) as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
