"""Failed logins per user and per address, for the login throttle (api/services/throttle.py).

In the database rather than in memory, so that restarting the api does not lift a lockout."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base


class LoginThrottle(Base):
    __tablename__ = "login_throttle"

    # "user:<username>" or "addr:<client address>".
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Failed checks in a row; a success (user) or a quiet day resets it.
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_ms: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    # No password is checked for this key before this moment (Unix ms).
    locked_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
