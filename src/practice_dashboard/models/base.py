"""One declarative base with naming conventions, portable column types and mixins."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Dialect, Integer, MetaData, String, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator

from practice_dashboard.models.enums import RecordStatus, checked

# Named constraints: Alembic's SQLite batch mode can only alter constraints it can name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): new rows land at the end of B-tree indexes."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every database: refuses naive values, returns UTC-aware ones.

    PostgreSQL stores `timestamptz`; SQLite has no time zone support, so values are stored as
    naive UTC text and given their UTC zone back on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given; all times must carry a time zone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


#: Ids read as text (SQLite), each parsed once while it stays among the most recently read.
_uuid_from_hex: Callable[[str], uuid.UUID] = lru_cache(maxsize=4096)(uuid.UUID)


class InternedUuid(Uuid[uuid.UUID]):
    """Uuid for ids a view reads in bulk and again on the next view (a caseload's clients and
    their practitioners), as `type_coerce(column, InternedUuid())`: where ids come as text,
    parsing one costs more than looking it up. The same SQL; a UUID is immutable, so sharing
    one between rows is safe. Drivers with a UUID type of their own are left to it."""

    cache_ok = True

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> Callable[[Any], uuid.UUID | None] | None:
        if dialect.supports_native_uuid and self.native_uuid:
            native: Callable[[Any], uuid.UUID | None] | None
            native = super().result_processor(dialect, coltype)  # type: ignore[no-untyped-call]
            return native

        def process(value: str | None) -> uuid.UUID | None:
            return None if value is None else _uuid_from_hex(value)

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, uuid.UUID: Uuid}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid7, sort_order=-100)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, server_default=func.current_timestamp(), sort_order=90
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime,
        default=utcnow,
        onupdate=utcnow,
        server_default=func.current_timestamp(),
        sort_order=91,
    )


class VersionedMixin:
    """Optimistic concurrency: SQLAlchemy adds `WHERE version = :old` to every UPDATE."""

    # The Python default serves bulk inserts that bypass the ORM's version counter.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, sort_order=92)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


class ArchivedMixin:
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, sort_order=93)


STATUS_REASON_MAX = 500


class RecordStatusMixin:
    """Corrections: a record entered in error stays, marked, with the reason, and counts nowhere."""

    status: Mapped[RecordStatus] = mapped_column(
        checked(RecordStatus, "record_status"), default=RecordStatus.RECORDED, sort_order=94
    )
    status_reason: Mapped[str | None] = mapped_column(
        String(STATUS_REASON_MAX), default=None, sort_order=95
    )

    @classmethod
    def counted(cls) -> ColumnElement[bool]:
        """The condition every query feeding a figure, chart, flag or summary applies."""
        return cls.status == RecordStatus.RECORDED
