"""What a logged-in member sees of their own: record, sessions, statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import CurrentUser, SessionDep, SiteDep, Staff
from api.models import AllocationRun, AuditEntry, Badge, Device, ElectricityBill, Machine, Member
from api.routes.common import get_or_404
from api.services.sessions import read_sessions
from api.services.statements import member_statement
from timeseries import InfluxError

router = APIRouter(tags=["me"])


class SessionPublic(BaseModel):
    machine: str | None
    device: str
    member_id: int | None
    member: str | None
    start: datetime
    end: datetime | None
    minutes: float | None
    kwh: float | None  # from the node's counter snapshots; None when not reported


def _ms(moment: int) -> datetime:
    return datetime.fromtimestamp(moment / 1000, UTC)


def _sessions(
    request: Request,
    session: SessionDep,
    site_name: str,
    site_id: int,
    member_id: int | None,
    start: datetime | None,
    end: datetime | None,
) -> list[SessionPublic]:
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=30)
    if start.tzinfo is None or end.tzinfo is None:
        start, end = (
            start.replace(tzinfo=start.tzinfo or UTC),
            end.replace(tzinfo=end.tzinfo or UTC),
        )
    holders = session.execute(
        select(Badge.hash, Member.id, Member.code)
        .join(Member, Member.id == Badge.member_id)
        .where(Member.site_id == site_id)
    ).all()
    owner = {h: (mid, code) for h, mid, code in holders}
    badges = None if member_id is None else [h for h, mid, _ in holders if mid == member_id]
    machines = dict(
        session.execute(
            select(Machine.device_id, Machine.code).where(Machine.site_id == site_id)
        ).all()
    )
    devices = dict(
        session.execute(select(Device.name, Device.id).where(Device.site_id == site_id)).all()
    )
    reader = request.app.state.influx
    if reader is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no InfluxDB configured")
    try:
        found = read_sessions(reader, site_name, start, end, badges)
    except InfluxError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    out = []
    for s in found:
        who = owner.get(s.badge)
        out.append(
            SessionPublic(
                machine=machines.get(devices.get(s.device)),
                device=s.device,
                member_id=who[0] if who else None,
                member=who[1] if who else None,
                start=_ms(s.start_ms),
                end=_ms(s.end_ms) if s.end_ms is not None else None,
                minutes=round((s.end_ms - s.start_ms) / 60000, 2) if s.end_ms is not None else None,
                kwh=None if s.wh is None else s.wh / 1000,
            )
        )
    return out


@router.get("/sessions", response_model=list[SessionPublic])
def list_sessions(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    site: SiteDep,
    member_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[SessionPublic]:
    if user.role == "member":
        if member_id is not None and member_id != user.member_id:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "members see only their own sessions")
        member_id = user.member_id or -1
    return _sessions(request, session, site.name, site.id, member_id, start, end)


@router.get("/me")
def me(user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    member = session.get(Member, user.member_id) if user.member_id else None
    return {
        "username": user.username,
        "role": user.role,
        "member": None
        if member is None
        else {"id": member.id, "code": member.code, "name": member.name, "kind": member.kind},
    }


@router.get("/me/statements")
def my_statements(user: CurrentUser, session: SessionDep) -> list[dict[str, Any]]:
    """The newest split of each bill, with this member's statement; held splits are
    not shown until the treasurer runs a split that is not held."""
    if user.member_id is None:
        return []
    member = get_or_404(session, Member, user.member_id, "member")
    out = []
    for bill in session.scalars(
        select(ElectricityBill).order_by(ElectricityBill.period_start.desc())
    ):
        run = session.scalar(
            select(AllocationRun)
            .where(AllocationRun.bill_id == bill.id)
            .order_by(AllocationRun.id.desc())
            .limit(1)
        )
        if run is None or run.result.get("held"):
            continue  # a held split waits for the treasurer (ALLOCATION.md step 4)
        statement = member_statement(run.result, member.code)
        if statement is None:
            continue
        out.append(
            {
                "split_id": run.id,
                "bill_id": bill.id,
                "period": run.result.get("period"),
                "closed": bill.closed_at is not None,
                "held": run.result.get("held", False),
                "member_id": member.id,
                **statement,
            }
        )
    return out


@router.get("/audit")
def audit_log(_: Staff, session: SessionDep, limit: int = 200) -> list[dict[str, Any]]:
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
