"""Alerts: list with filters, one with its evidence and deliveries, acknowledge.
Staff may read; only a coordinator or an admin may acknowledge (recorded by name)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from alerts.models import Alert
from alerts.schemas import AlertDetail, AlertPublic
from api.deps import IdPath, Manager, SessionDep, Staff, WorkDep
from api.services import alerts

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
    return alerts.list_alerts(session, state, kind, device, since, limit)


@router.get("/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: IdPath, _: Staff, session: SessionDep) -> Alert:
    return alerts.get_alert(session, alert_id)


@router.post("/{alert_id}/acknowledge", response_model=AlertDetail)
def acknowledge(alert_id: IdPath, _: Manager, work: WorkDep) -> Alert:
    return alerts.acknowledge(work, alert_id)
