"""The portable column types of models/base.py, on the real database."""

from __future__ import annotations

import uuid

from sqlalchemy import null, select, type_coerce
from sqlalchemy.orm import Session

from practice_dashboard.config import Settings
from practice_dashboard.models import Client
from practice_dashboard.models.base import InternedUuid
from tests import databases
from tests.builders import make_client, make_user


class TestInternedUuid:
    """A column read as InternedUuid gives the same UUIDs as the model's own type; where ids
    come as text (SQLite), each id read again is the object read before."""

    def test_the_same_ids_as_the_models_type(self, db: Session, settings: Settings) -> None:
        owner = make_user(db, settings)
        made = {make_client(db, owner).id for _ in range(3)}
        interned = type_coerce(Client.id, InternedUuid()).label("id")
        first = list(db.scalars(select(interned).where(Client.id.in_(made))))
        again = list(db.scalars(select(interned).where(Client.id.in_(made))))
        assert set(first) == made
        assert all(isinstance(i, uuid.UUID) for i in first)
        assert sorted(first) == sorted(again)
        if databases.test_backend() == "sqlite":
            by_value = {i: i for i in first}
            assert all(by_value[i] is i for i in again)

    def test_null_stays_none(self, db: Session) -> None:
        assert db.scalar(select(type_coerce(null(), InternedUuid()))) is None
