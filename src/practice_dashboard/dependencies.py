"""Request dependencies shared by the JSON API and the pages: settings, the unit of work, caller IP.

Kept outside `api/` and `web/` so both layers can use them without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from practice_dashboard.config import Settings
from practice_dashboard.db import DbSession, SessionFactory
from practice_dashboard.errors import AppError


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[DbSession]:
    """The unit of work: commit when the handler returns, roll back when it raises."""
    factory: SessionFactory = request.app.state.session_factory
    db = factory()
    try:
        yield db
    except AppError as exc:
        if exc.keep_changes:
            db.commit()
        else:
            db.rollback()
        raise
    except BaseException:
        db.rollback()
        raise
    else:
        db.commit()
    finally:
        db.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response is sent, so a 2xx always means "stored".
DbDep = Annotated[DbSession, Depends(get_db, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
