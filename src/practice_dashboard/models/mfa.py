from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, IdMixin, TimestampMixin, UTCDateTime


class MfaAuthenticator(IdMixin, TimestampMixin, Base):
    """An account's authenticator app (TOTP, RFC 6238): at most one per account.

    Unconfirmed (`confirmed_at` null) while the person is enrolling; the second factor is on
    once a code from the app has been accepted. The base32 secret is stored sealed with the
    practice's MFA key (security.seal_mfa_secret), so a database copy alone cannot compute
    codes; one stored before sealing (plain base32) still works until `migrate` seals it.
    Its own table, not columns on `user`, so a code check never bumps the account's `version`.
    """

    __tablename__ = "mfa_authenticator"
    __table_args__ = (CheckConstraint("failed_count >= 0", name="failed_count_range"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), unique=True)
    secret: Mapped[str] = mapped_column(String(255))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The 30-second time step of the last accepted code: a code is never accepted twice.
    last_used_step: Mapped[int | None] = mapped_column(Integer, default=None)
    # Wrong codes in a row (TOTP or recovery), for the doubling wait; reset by a right code.
    failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class MfaRecoveryCode(IdMixin, TimestampMixin, Base):
    """A one-time recovery code: only its SHA-256 is stored (each code carries 80 random bits,
    so the hash cannot be reversed by guessing); `used_at` is set when it is spent."""

    __tablename__ = "mfa_recovery_code"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
