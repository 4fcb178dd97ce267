"""Create and drop throw-away databases for the test run, on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_backend() -> str:
    """`sqlite` (default) or `postgresql`, from TEST_DATABASE (the test command sets it)."""
    backend = os.environ.get("TEST_DATABASE", "sqlite")
    if backend not in ("sqlite", "postgresql"):
        raise RuntimeError(f"TEST_DATABASE must be sqlite or postgresql, not {backend!r}")
    return backend


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@contextmanager
def fresh_database(backend: str | None = None) -> Iterator[str]:
    """A new, empty database for as long as the block runs; its URL is yielded."""
    backend = backend or test_backend()
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="pd-test-") as folder:
            yield f"sqlite:///{Path(folder) / 'test.db'}"
        return
    admin_url = make_url(postgres_admin_url())
    if admin_url.drivername in ("postgresql", "postgresql+psycopg2"):
        admin_url = admin_url.set(drivername="postgresql+psycopg")
    name = f"pd_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
