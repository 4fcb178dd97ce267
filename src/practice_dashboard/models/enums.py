"""Enumerations stored as checked strings (portable: no native PostgreSQL enum types)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum

from practice_dashboard.domain.facts import (
    Attendance,
    ClientStatus,
    HomeworkCompletion,
    Source,
    Zone,
)
from practice_dashboard.domain.roles import Role


class SessionKind(StrEnum):
    THERAPY = "therapy"
    COACHING = "coaching"
    ASSESSMENT = "assessment"
    CHECK_IN = "check_in"


class Modality(StrEnum):
    IN_PERSON = "in_person"
    VIDEO = "video"
    PHONE = "phone"


def checked(enum: type[StrEnum], name: str) -> Enum:
    """A VARCHAR with a named CHECK constraint listing the enum's values."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum) + 4,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


__all__ = [
    "Attendance",
    "ClientStatus",
    "HomeworkCompletion",
    "Modality",
    "Role",
    "SessionKind",
    "Source",
    "Zone",
    "checked",
]
