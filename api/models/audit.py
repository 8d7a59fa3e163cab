"""Who changed what, when, with the row before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), default=None)
    actor: Mapped[str] = mapped_column(String(100))  # username, or "cli:<login>"
    action: Mapped[str] = mapped_column(String(32))  # create / update / delete / run / ...
    entity: Mapped[str] = mapped_column(String(64))  # table name
    entity_id: Mapped[int | None] = mapped_column(default=None)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
