"""Stored alerts and their deliveries, on the alerts' own declarative Base:
their tables are migrated by the alerts' Alembic branch (alerts/migrations/),
which the api's start-up upgrades together with its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The constraint names of the alert tables (pk_alerts, ix_alerts_kind, ...):
# their migrations name them, so the models must agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


OPEN_STATES = ("firing", "notified", "acknowledged")
STATES = (*OPEN_STATES, "resolved")
_OPEN_SQL = "state IN ('firing', 'notified', 'acknowledged')"


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open alert per condition: the database itself refuses a flood.
        Index(
            "uq_alerts_open_dedupe_key", "dedupe_key", unique=True,
            sqlite_where=text(_OPEN_SQL), postgresql_where=text(_OPEN_SQL),
        ),
        Index("ix_alerts_state_fired_at", "state", "fired_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    site: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(String(64), default="")
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    state: Mapped[str] = mapped_column(String(16), default="firing")
    summary: Mapped[str] = mapped_column(Text)
    # The readings that made it fire (kept), and those of the newest firing.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    latest_evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    deliveries: Mapped[list[AlertDelivery]] = relationship(
        back_populates="alert", order_by="AlertDelivery.id", cascade="all, delete-orphan"
    )


class AlertDelivery(Base):
    """One notification (fired or resolved) to one channel, with its retries."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))  # fired | resolved
    channel: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    alert: Mapped[Alert] = relationship(back_populates="deliveries")
