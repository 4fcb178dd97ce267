from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from practice_dashboard.models.base import Base, IdMixin, TimestampMixin, UTCDateTime


class LoginFailure(IdMixin, TimestampMixin, Base):
    """Failed logins counted under one throttling key: an (e-mail, source address) pair, or a
    source address alone (spraying across accounts).

    The key is a keyed hash (HMAC with the secret key), so the table names neither e-mails nor
    addresses, and an unknown e-mail is counted exactly like an account's.
    """

    __tablename__ = "login_failure"

    key: Mapped[str] = mapped_column(String(64), unique=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # Indexed: old rows are pruned by this time.
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
