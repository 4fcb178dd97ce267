from __future__ import annotations

import re
import uuid
from typing import Annotated

from pydantic import AfterValidator, Field

from practice_dashboard.models.enums import Role
from practice_dashboard.schemas.common import InputSchema, NotNull, Record, Schema

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(value: str) -> str:
    """The form e-mails are stored and looked up in: accounts are case-insensitive."""
    return value.strip().lower()


def _valid_email(value: str) -> str:
    value = normalise_email(value)
    if not _EMAIL.match(value):
        raise ValueError("must be an e-mail address like name@example.org")
    return value


Email = Annotated[str, Field(max_length=320), AfterValidator(_valid_email)]
Password = Annotated[
    str,
    Field(min_length=12, max_length=256, description="At least 12 characters"),
]


class UserCreate(InputSchema):
    email: Email
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    password: Password


class UserUpdate(InputSchema):
    full_name: Annotated[str | None, NotNull] = Field(default=None, min_length=1, max_length=200)
    role: Annotated[Role | None, NotNull] = None
    is_active: Annotated[bool | None, NotNull] = None
    password: Password | None = None
    version: int = Field(description="The version this change is based on")


class UserRead(Record):
    email: str
    full_name: str
    role: Role
    is_active: bool
    version: int


class SupervisionCreate(InputSchema):
    supervisee_id: uuid.UUID


class SupervisionRead(Record):
    supervisor_id: uuid.UUID
    supervisee_id: uuid.UUID


class Token(Schema):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the token expires")
