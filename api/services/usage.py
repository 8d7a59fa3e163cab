"""Who used which machine, and when: badge sessions shown with members and machines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Badge, Device, Machine, Member, Site, User
from api.schemas.machines import SessionPublic
from api.services.errors import Forbidden, Invalid, Unavailable
from api.services.sessions import read_sessions
from protocol.wire import TS_MAX_MS, TS_MIN_MS
from timeseries import InfluxClient, InfluxError


def _ms(moment: int) -> datetime:
    return datetime.fromtimestamp(moment / 1000, UTC)


# Node times outside this span are refused at the gateway: no session lies outside it,
# and InfluxDB refuses a time literal far outside it.
_FIRST, _LAST = _ms(TS_MIN_MS), _ms(TS_MAX_MS)


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) as aware times within the span node data can have (default: the
    last 30 days); a window wholly outside it comes back empty (start == end)."""
    start, end = (
        None if t is None else t if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end)
    )
    if start is not None and end is not None and end <= start:
        raise Invalid(f"end {end.isoformat()} is not after start {start.isoformat()}")
    end = min(max(end or datetime.now(UTC), _FIRST), _LAST)
    start = min(max(start or end - timedelta(days=30), _FIRST), end)
    return start, end


def list_sessions(
    session: Session,
    reader: InfluxClient | None,
    site: Site,
    user: User,
    member_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[SessionPublic]:
    """Sessions overlapping [start, end) (default: the last 30 days); a member
    sees only their own."""
    if user.role == "member":
        if member_id is not None and member_id != user.member_id:
            raise Forbidden("members see only their own sessions")
        member_id = user.member_id or -1
    start, end = _window(start, end)
    holders = session.execute(
        select(Badge.hash, Member.id, Member.code)
        .join(Member, Member.id == Badge.member_id)
        .where(Member.site_id == site.id)
    ).all()
    owner = {h: (mid, code) for h, mid, code in holders}
    badges = None if member_id is None else [h for h, mid, _ in holders if mid == member_id]
    machines = dict(
        session.execute(
            select(Machine.device_id, Machine.code).where(Machine.site_id == site.id)
        ).all()
    )
    devices = dict(
        session.execute(select(Device.name, Device.id).where(Device.site_id == site.id)).all()
    )
    if reader is None:
        raise Unavailable("no InfluxDB configured")
    if start == end:
        return []
    try:
        found = read_sessions(reader, site.name, start, end, badges)
    except InfluxError as exc:
        raise Unavailable(str(exc)) from exc
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
