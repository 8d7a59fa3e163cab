"""Devices (MQTT nodes) and their broker credentials."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Device, Site
from api.schemas.machines import DeviceCreate, DeviceCredentials
from api.security import mosquitto_hash, new_device_password
from api.services.errors import Conflict
from api.services.records import add_row, get
from api.services.work import Work


def list_devices(session: Session, site: Site) -> list[Device]:
    return list(
        session.scalars(select(Device).where(Device.site_id == site.id).order_by(Device.name))
    )


def _credentials(device: Device, password: str) -> DeviceCredentials:
    return DeviceCredentials(
        id=device.id,
        name=device.name,
        role=device.role,
        created_at=device.created_at,
        mqtt_username=device.name,
        mqtt_password=password,
    )


def create_device(work: Work, body: DeviceCreate) -> DeviceCredentials:
    """The MQTT password is returned here once; only its hash is kept."""
    session, site = work.session, work.site
    if session.scalar(select(Device).where(Device.site_id == site.id, Device.name == body.name)):
        raise Conflict(f"device {body.name} exists")
    password = new_device_password()
    device = add_row(
        session,
        work.audit,
        Device(
            site_id=site.id,
            name=body.name,
            role=body.role,
            mqtt_password_hash=mosquitto_hash(password),
        ),
    )
    session.commit()
    return _credentials(device, password)


def reset_password(work: Work, device_id: int) -> DeviceCredentials:
    device = get(work.session, Device, device_id, "device")
    password = new_device_password()
    device.mqtt_password_hash = mosquitto_hash(password)
    work.audit.record("reset_password", "device", device.id)
    work.session.commit()
    return _credentials(device, password)


def mosquitto_passwd(session: Session, site: Site) -> str:
    """The devices' lines for Mosquitto's password file (hashes only)."""
    devices = session.scalars(select(Device).where(Device.site_id == site.id).order_by(Device.name))
    return "".join(f"{d.name}:{d.mqtt_password_hash}\n" for d in devices)
