"""Alerts as staff see them: filtered lists, one with its evidence, acknowledged by name."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import lifecycle
from alerts.models import STATES, Alert
from api.services.errors import Conflict, Invalid
from api.services.records import get
from api.services.work import Work


def list_alerts(
    session: Session,
    state: str | None = None,
    kind: str | None = None,
    device: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Alert]:
    """Newest first; state `open` is any but resolved."""
    query = select(Alert)
    if state == "open":
        query = query.where(Alert.state != "resolved")
    elif state is not None:
        if state not in STATES:
            raise Invalid(f"state must be one of {', '.join(STATES)} or open, not {state!r}")
        query = query.where(Alert.state == state)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if device is not None:
        query = query.where(Alert.device == device)
    if since is not None:
        if since.tzinfo is None:
            raise Invalid("since needs a time zone (e.g. 2026-11-02T07:00:00Z)")
        query = query.where(Alert.fired_at >= since.astimezone(UTC))
    return list(
        session.scalars(query.order_by(Alert.fired_at.desc(), Alert.id.desc()).limit(limit))
    )


def get_alert(session: Session, alert_id: int) -> Alert:
    return get(session, Alert, alert_id, "alert")


def acknowledge(work: Work, alert_id: int) -> Alert:
    """Recorded with the name of who acknowledges, in the audit log too."""
    alert = get(work.session, Alert, alert_id, "alert")
    before = alert.state
    try:
        lifecycle.acknowledge(
            work.session, alert.id, work.audit.actor, datetime.now(UTC), commit=False
        )
    except lifecycle.LifecycleError as exc:
        raise Conflict(str(exc)) from exc
    work.audit.record(
        "acknowledge",
        "alerts",
        alert.id,
        {"state": before},
        {"state": alert.state, "acknowledged_by": work.audit.actor},
    )
    work.session.commit()
    return alert
