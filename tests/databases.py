"""Create and drop throw-away databases for the test run, on SQLite or PostgreSQL."""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_backend() -> str:
    """`sqlite` (default) or `postgresql`, from TEST_DATABASE (the test command sets it)."""
    backend = os.environ.get("TEST_DATABASE", "sqlite")
    if backend not in ("sqlite", "postgresql"):
        raise RuntimeError(f"TEST_DATABASE must be sqlite or postgresql, not {backend!r}")
    return backend


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _admin_url() -> URL:
    url = make_url(postgres_admin_url())
    if url.drivername in ("postgresql", "postgresql+psycopg2"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _admin_execute(statement: str) -> None:
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def _drop_postgres(name: str) -> None:
    _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (empty, or a copy of `template`), dropped after the block."""
    name = f"pd_test_{os.getpid()}_{secrets.token_hex(4)}"
    _admin_execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    try:
        yield _admin_url().set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_postgres(name)


@contextmanager
def fresh_database(backend: str | None = None) -> Iterator[str]:
    """A new, empty database for as long as the block runs; its URL is yielded."""
    backend = backend or test_backend()
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pd-test-") as folder:
            yield f"sqlite:///{Path(folder) / 'test.db'}"
        return
    with _postgres_database() as url:
        yield url


@contextmanager
def migrated_database(backend: str | None = None) -> Iterator[str]:
    """A new database already at the newest revision, for as long as the block runs.

    For tests whose setup, not their subject, is a migrated database (tests of migrating
    itself start from `fresh_database`). Each is a copy of one database this process migrated
    once: a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL. Migrating each
    from empty had taken 101 of the SQLite leg's 581 busy CPU seconds, most of it in setup
    (py-spy over the whole leg, 2026-12-07).
    """
    backend = backend or test_backend()
    template = _template(backend)
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pd-test-") as folder:
            path = Path(folder) / "test.db"
            shutil.copyfile(template, path)
            yield f"sqlite:///{path}"
        return
    with _postgres_database(template) as url:
        yield url


_TEMPLATES: dict[str, str] = {}


def _template(backend: str) -> str:
    """The process's migrated template: a file path (SQLite) or a database name."""
    if backend not in _TEMPLATES:
        _TEMPLATES[backend] = _sqlite_template() if backend == "sqlite" else _postgres_template()
    return _TEMPLATES[backend]


def _migrate(url: str) -> None:
    # Imported here: the conftest imports this module.
    from practice_dashboard import migrate
    from practice_dashboard.db import create_db_engine
    from tests.conftest import make_settings

    engine = create_db_engine(make_settings(url))
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


def _sqlite_template() -> str:
    folder = tempfile.mkdtemp(prefix="pd-template-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "template.db"
    _migrate(f"sqlite:///{path}")
    # The last connection's close checkpointed the write-ahead log into the file and removed
    # it, so the file alone is the whole database.
    if path.with_name(path.name + "-wal").exists():
        raise RuntimeError(f"{path}: its write-ahead log outlived the last connection")
    return str(path)


def _postgres_template() -> str:
    name = f"pd_template_{os.getpid()}_{secrets.token_hex(4)}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    atexit.register(_drop_postgres, name)
    _migrate(_admin_url().set(database=name).render_as_string(hide_password=False))
    return name
