"""The coordinator's view of the building: now, and charts over time (staff only);
and what a member sees of the machines: the ones they may use, free or not."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.config import RulesConfig, load_rules
from alerts.models import Alert
from alerts.schemas import AlertDetail
from api.deps import CurrentUser, SessionDep, SiteDep, Staff
from api.models import Badge, Device, ElectricityBill, Machine, Member, Site, Training
from api.routes.common import site_today, unprocessable
from api.services import building, charts
from api.services.influx import InfluxError, InfluxReader
from api.services.sessions import read_sessions

router = APIRouter(tags=["building"])
T = TypeVar("T")
# Open alerts on a machine's node that mean it should not be used.
OUT_OF_ORDER = ("interlock_fault", "device_offline", "sensor_implausible")


def _influx(request: Request, read: Callable[[InfluxReader], T]) -> T:
    reader: InfluxReader | None = request.app.state.influx
    if reader is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no InfluxDB configured")
    try:
        return read(reader)
    except InfluxError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc


def _rules(request: Request) -> RulesConfig:
    """The alert thresholds (zone setpoints, silence): the file the alert service reads."""
    rules: RulesConfig | None = getattr(request.app.state, "rules", None)
    if rules is None:
        rules = load_rules(request.app.state.settings.alerts_rules_file)
        request.app.state.rules = rules
    return rules


def _machines_by_device(session: Session, site: Site) -> dict[str, str]:
    rows = session.execute(
        select(Device.name, Machine.code).join(Machine, Machine.device_id == Device.id)
        .where(Machine.site_id == site.id)
    ).all()
    return {device: code for device, code in rows}


def _open_alerts(session: Session) -> list[Alert]:
    query = select(Alert).where(Alert.state != "resolved")
    return list(session.scalars(query.order_by(Alert.fired_at.desc(), Alert.id.desc())))


@router.get("/building/now")
def building_now(request: Request, _: Staff, session: SessionDep, site: SiteDep) -> dict[str, Any]:
    """Zones against setpoints, boilers, nodes, machines in use, open alerts."""
    machines = _machines_by_device(session, site)
    badges = dict(session.execute(
        select(Badge.hash, Member.code).join(Member, Member.id == Badge.member_id)
        .where(Member.site_id == site.id)
    ).all())
    rules = _rules(request)
    now = datetime.now(UTC)
    found = _influx(request, lambda r: building.building_now(r, site.name, rules, machines,
                                                              badges, now))
    found["alerts"] = [AlertDetail.model_validate(a).model_dump(mode="json")
                       for a in _open_alerts(session)]
    return found


@router.get("/building/charts/{chart}")
def building_chart(request: Request, chart: str, _: Staff, site: SiteDep,
                   wanted: Annotated[str, Query(alias="range")] = "24h") -> dict[str, Any]:
    if chart not in charts.CHARTS:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"no chart {chart!r}; there are {', '.join(charts.CHARTS)}")
    span = charts.RANGES.get(wanted)
    if span is None:
        raise unprocessable(f"range must be one of {', '.join(charts.RANGES)}, not {wanted!r}")
    now = datetime.now(UTC)
    return _influx(request, lambda r: charts.read_chart(r, chart, site.name, span, now))


@router.get("/me/machines")
def my_machines(request: Request, user: CurrentUser, session: SessionDep,
                site: SiteDep) -> list[dict[str, Any]]:
    """The machines the member is trained on, the training's expiry, and whether
    each is free, in use or out of order (its node silent or an open fault)."""
    if user.member_id is None:
        return []
    today = site_today(site)
    rows = session.execute(
        select(Training, Machine).join(Machine, Machine.id == Training.machine_id)
        .where(Training.member_id == user.member_id, Training.revoked_at.is_(None))
        .order_by(Machine.code)
    ).all()
    devices = {d.id: d.name for d in session.scalars(select(Device).where(
        Device.site_id == site.id))}
    faulty = {a.device for a in _open_alerts(session) if a.kind in OUT_OF_ORDER}
    now = datetime.now(UTC)

    def busy(reader: InfluxReader) -> set[str]:
        sessions = read_sessions(reader, site.name, now - building.OPEN_SESSION_LOOKBACK, now)
        return building.open_devices(sessions)

    try:
        in_use: set[str] | None = _influx(request, busy)
    except HTTPException:  # the list still says what the member may use
        in_use = None
    out = []
    for training, machine in rows:
        device = devices.get(machine.device_id) if machine.device_id else None
        if device is None or device in faulty:
            state = "out of order"
        elif in_use is None:
            state = "unknown (no live data)"
        elif device in in_use:
            state = "in use"
        else:
            state = "free"
        expired = training.expires_on is not None and training.expires_on < today
        out.append({
            "machine_id": machine.id, "code": machine.code, "name": machine.name,
            "expires_on": training.expires_on.isoformat() if training.expires_on else None,
            "expired": expired, "state": state,
        })
    return out


@router.get("/me/price")
def energy_price(_: CurrentUser, session: SessionDep, site: SiteDep) -> dict[str, Any]:
    """The energy price of the newest electricity bill (its bands' cost over their
    kWh): what a member's session is estimated at before the split."""
    bill = session.scalar(select(ElectricityBill).where(ElectricityBill.site_id == site.id)
                          .order_by(ElectricityBill.period_end.desc()).limit(1))
    if bill is None:
        return {"per_kwh": None, "bill_id": None}
    kwh = sum((Decimal(b.kwh) for b in bill.bands), Decimal(0))
    cost = sum((Decimal(b.cost) for b in bill.bands), Decimal(0))
    price = (cost / kwh).quantize(Decimal("0.0001")) if kwh else None
    return {"per_kwh": None if price is None else str(price), "bill_id": bill.id,
            "period": {"start": bill.period_start.isoformat(),
                       "end": bill.period_end.isoformat()}}
