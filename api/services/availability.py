"""The machines a member may use: the training's expiry, and whether each is
free, in use or out of order right now."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Device, Machine, Site, Training, User
from api.services import acl, alerts, building
from api.services.errors import Unavailable
from api.services.sessions import read_sessions
from timeseries import InfluxClient

# Open alerts on a machine's node that mean it should not be used.
OUT_OF_ORDER = ("interlock_fault", "device_offline", "sensor_implausible")


def _in_use(reader: InfluxClient | None, site: Site) -> set[str] | None:
    """Devices with an open session; None when InfluxDB cannot say."""
    now = datetime.now(UTC)
    try:
        return building.reading(reader, lambda r: building.open_devices(
            read_sessions(r, site.name, now - building.OPEN_SESSION_LOOKBACK, now)))
    except Unavailable:  # the list still says what the member may use
        return None


def member_machines(session: Session, reader: InfluxClient | None, site: Site,
                    user: User) -> list[dict[str, Any]]:
    if user.member_id is None:
        return []
    today = acl.site_today(site)
    rows = session.execute(
        select(Training, Machine).join(Machine, Machine.id == Training.machine_id)
        .where(Training.member_id == user.member_id, Training.revoked_at.is_(None))
        .order_by(Machine.code)
    ).all()
    devices = dict(session.execute(select(Device.id, Device.name).where(
        Device.site_id == site.id)).all())
    faulty = {a.device for a in alerts.list_alerts(session, state="open", limit=1000)
              if a.kind in OUT_OF_ORDER}
    in_use = _in_use(reader, site)
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
        out.append({
            "machine_id": machine.id, "code": machine.code, "name": machine.name,
            "expires_on": training.expires_on.isoformat() if training.expires_on else None,
            "expired": training.expires_on is not None and training.expires_on < today,
            "state": state,
        })
    return out
