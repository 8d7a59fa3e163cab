"""The audit log: every change, by whom, with the row before and after."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from api.models import AuditEntry, Base

# Never copied into the log, even hashed.
_SECRET_COLUMNS = {"password_hash", "mqtt_password_hash", "token_hash"}


def snapshot(row: Base) -> dict[str, Any]:
    """The row's columns as JSON-safe values."""
    out: dict[str, Any] = {}
    for column in inspect(row).mapper.column_attrs:
        if column.key in _SECRET_COLUMNS:
            continue
        value = getattr(row, column.key)
        if isinstance(value, date | datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        out[column.key] = value
    return out


class Auditor:
    """Bound to one actor; records into the caller's transaction, so a failed
    change leaves no audit row and a stored change always has one."""

    def __init__(self, session: Session, actor: str, user_id: int | None) -> None:
        self.session = session
        self.actor = actor
        self.user_id = user_id

    def record(
        self,
        action: str,
        entity: str,
        entity_id: int | None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self.session.add(
            AuditEntry(
                actor=self.actor,
                user_id=self.user_id,
                action=action,
                entity=entity,
                entity_id=entity_id,
                before=before,
                after=after,
            )
        )

    def created(self, row: Base) -> None:
        self.session.flush()
        self.record("create", row.__tablename__, getattr(row, "id", None), after=snapshot(row))

    def updated(self, row: Base, before: dict[str, Any]) -> None:
        self.session.flush()
        self.record("update", row.__tablename__, getattr(row, "id", None), before, snapshot(row))


def recent(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The newest entries first, at most 5000."""
    rows = session.scalars(
        select(AuditEntry).order_by(AuditEntry.id.desc()).limit(min(limit, 5000))
    )
    return [
        {
            "id": r.id,
            "at": r.at,
            "actor": r.actor,
            "action": r.action,
            "entity": r.entity,
            "entity_id": r.entity_id,
            "before": r.before,
            "after": r.after,
        }
        for r in rows
    ]
