"""The building now, for the coordinator: heating zones against their setpoints,
boilers, every node online or silent, machines in use, open alerts.

Roles come from the data, as in the dashboards: a node's newest status names
its role, and a node that never sent one is known by the counter only its role
has (heating `burn_s`, machine `on_s`, meter `pulses`), so a node shows up
before anyone registers it in SQL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.config import RulesConfig
from alerts.schemas import AlertDetail
from api.models import Badge, Device, Machine, Member, Site
from api.services import alerts
from api.services.errors import Unavailable
from api.services.sessions import MachineSession, read_sessions
from timeseries import InfluxClient, InfluxError, quote_string, rfc3339

T = TypeVar("T")

ROLE_COUNTERS = {"burn_s": "heating", "on_s": "machine", "pulses": "meter"}
# An open session older than this is a node that never sent its end, not a use.
OPEN_SESSION_LOOKBACK = timedelta(days=2)


def newest(reader: InfluxClient, measurement: str, site: str, since: datetime,
           until: datetime) -> dict[str, dict[str, Any]]:
    """Per device, the newest point of one measurement in [since, until] (column -> value)."""
    query = (f'SELECT * FROM "{measurement}" WHERE "site" = {quote_string(site)} '
             f"AND time >= '{rfc3339(since)}' AND time <= '{rfc3339(until)}' "
             'GROUP BY "device" ORDER BY time DESC LIMIT 1')
    out: dict[str, dict[str, Any]] = {}
    for series in reader.query(query):
        rows = list(series.rows)
        if rows:
            out[series.tags.get("device", "")] = rows[0]
    return out


def _iso(ms: Any) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat()


def node_role(status: dict[str, Any] | None, telemetry: dict[str, Any] | None) -> str:
    if status and status.get("role"):
        return str(status["role"])
    for counter, role in ROLE_COUNTERS.items():
        if telemetry and telemetry.get(counter) is not None:
            return role
    return ""


def node_state(status: dict[str, Any] | None, last_seen_ms: int | None, now_ms: int,
               silent_after_ms: int) -> str:
    """online, offline (its last will), silent (nothing for too long), or unknown."""
    if last_seen_ms is None:
        return "unknown"
    if status and status.get("time") == last_seen_ms and status.get("state") in (
            "offline", "silent"):
        return str(status["state"])
    return "silent" if now_ms - last_seen_ms > silent_after_ms else "online"


def zones(device: str, telemetry: dict[str, Any], rules: RulesConfig) -> list[dict[str, Any]]:
    heating = rules.heating
    out = []
    for name in sorted(k for k in telemetry if k.startswith("t_zone")):
        value = telemetry[name]
        if value is None:
            continue
        setpoint = heating.zone_setpoints.get(f"{device}.{name}", heating.zone_setpoint_c)
        out.append({
            "device": device, "zone": name, "temperature_c": round(float(value), 2),
            "setpoint_c": setpoint, "cold": float(value) < setpoint - heating.zone_margin_c,
            "at": _iso(telemetry.get("time")),
        })
    return out


def _reading(telemetry: dict[str, Any], name: str) -> float | None:
    value = telemetry.get(name)
    return None if value is None else round(float(value), 2)


def live_state(
    reader: InfluxClient,
    site: str,
    rules: RulesConfig,
    machines_by_device: dict[str, str],
    members_by_badge: dict[str, str],
    now: datetime,
) -> dict[str, Any]:
    """Everything of the coordinator's page that comes from InfluxDB."""
    known_since = now - timedelta(seconds=rules.offline.known_for_s)
    status = newest(reader, "status", site, known_since, now)
    telemetry = newest(reader, "telemetry", site, known_since, now)
    now_ms = int(now.timestamp() * 1000)
    silent_after_ms = int(rules.offline.missed_intervals * rules.offline.default_interval_s * 1000)
    nodes, boilers, zone_rows, power = [], [], [], []
    for device in sorted(set(status) | set(telemetry)):
        st, tm = status.get(device), telemetry.get(device)
        seen = [int(p["time"]) for p in (st, tm) if p is not None]
        last_seen = max(seen) if seen else None
        role = node_role(st, tm)
        nodes.append({
            "device": device, "role": role, "last_seen": _iso(last_seen),
            "state": node_state(st, last_seen, now_ms, silent_after_ms),
            "machine": machines_by_device.get(device),
        })
        if tm is None:
            continue
        if role == "heating":
            boilers.append({
                "device": device, "call": bool(tm.get("call")),
                "t_flow_c": _reading(tm, "t_flow"), "t_return_c": _reading(tm, "t_return"),
                "at": _iso(tm.get("time")),
            })
            zone_rows += zones(device, tm, rules)
        elif role == "meter":
            power.append({"device": device, "w": _reading(tm, "w"), "at": _iso(tm.get("time"))})
    sessions = read_sessions(reader, site, now - OPEN_SESSION_LOOKBACK, now)
    return {
        "at": now.isoformat(),
        "zones": zone_rows,
        "boilers": boilers,
        "meters": power,
        "nodes": nodes,
        "in_use": in_use(sessions, machines_by_device, members_by_badge),
    }


def in_use(sessions: Iterable[MachineSession], machines_by_device: dict[str, str],
           members_by_badge: dict[str, str]) -> list[dict[str, Any]]:
    """Sessions still open: which machine, whose badge, since when."""
    return [
        {"device": s.device, "machine": machines_by_device.get(s.device),
         "member": members_by_badge.get(s.badge), "since": _iso(s.start_ms)}
        for s in sessions if s.end_ms is None
    ]


def open_devices(sessions: Iterable[MachineSession]) -> set[str]:
    return {s.device for s in sessions if s.end_ms is None}


def reading(reader: InfluxClient | None, read: Callable[[InfluxClient], T]) -> T:
    """`read` on InfluxDB; Unavailable when there is none or it cannot answer."""
    if reader is None:
        raise Unavailable("no InfluxDB configured")
    try:
        return read(reader)
    except InfluxError as exc:
        raise Unavailable(str(exc)) from exc


def machines_by_device(session: Session, site: Site) -> dict[str, str]:
    rows = session.execute(
        select(Device.name, Machine.code).join(Machine, Machine.device_id == Device.id)
        .where(Machine.site_id == site.id)
    ).all()
    return {device: code for device, code in rows}


def building_now(session: Session, reader: InfluxClient | None, site: Site, rules: RulesConfig,
                 now: datetime | None = None) -> dict[str, Any]:
    """The coordinator's page: the live state from InfluxDB, the open alerts from SQL."""
    machines = machines_by_device(session, site)
    badges = {h: code for h, code in session.execute(
        select(Badge.hash, Member.code).join(Member, Member.id == Badge.member_id)
        .where(Member.site_id == site.id)
    ).all()}
    moment = now or datetime.now(UTC)
    found = reading(reader, lambda r: live_state(r, site.name, rules, machines, badges, moment))
    found["alerts"] = [AlertDetail.model_validate(a).model_dump(mode="json")
                       for a in alerts.list_alerts(session, state="open", limit=1000)]
    return found
