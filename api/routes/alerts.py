"""Alerts: list with filters, one with its evidence and deliveries, acknowledge.
Staff may read; only a coordinator or an admin may acknowledge (recorded by name)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from alerts import lifecycle
from alerts.models import STATES, Alert
from alerts.schemas import AlertDetail, AlertPublic
from api.deps import AuditorDep, Manager, SessionDep, Staff
from api.routes.common import conflict, get_or_404, unprocessable

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("", response_model=list[AlertPublic])
def list_alerts(
    _: Staff,
    session: SessionDep,
    state: Annotated[
        str | None,
        Query(description="firing, notified, acknowledged, resolved, or open (any but resolved)"),
    ] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    device: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[datetime | None, Query(description="fired at or after (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Alert]:
    query = select(Alert)
    if state == "open":
        query = query.where(Alert.state != "resolved")
    elif state is not None:
        if state not in STATES:
            raise unprocessable(f"state must be one of {', '.join(STATES)} or open, not {state!r}")
        query = query.where(Alert.state == state)
    if kind is not None:
        query = query.where(Alert.kind == kind)
    if device is not None:
        query = query.where(Alert.device == device)
    if since is not None:
        if since.tzinfo is None:
            raise unprocessable("since needs a time zone (e.g. 2026-11-02T07:00:00Z)")
        query = query.where(Alert.fired_at >= since.astimezone(UTC))
    return list(
        session.scalars(query.order_by(Alert.fired_at.desc(), Alert.id.desc()).limit(limit))
    )


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: int, _: Staff, session: SessionDep) -> Alert:
    return get_or_404(session, Alert, alert_id, "alert")


@router.post("/{alert_id}/acknowledge", response_model=AlertDetail)
def acknowledge(alert_id: int, user: Manager, session: SessionDep, audit: AuditorDep) -> Alert:
    alert = get_or_404(session, Alert, alert_id, "alert")
    before = alert.state
    try:
        lifecycle.acknowledge(session, alert.id, user.username, datetime.now(UTC), commit=False)
    except lifecycle.LifecycleError as exc:
        raise conflict(str(exc)) from exc
    except LookupError as exc:  # pragma: no cover - checked just above
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    audit.record(
        "acknowledge",
        "alerts",
        alert.id,
        {"state": before},
        {"state": alert.state, "acknowledged_by": user.username},
    )
    session.commit()
    return alert
