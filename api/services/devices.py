"""Devices (MQTT nodes) and their broker logins: each change reaches the broker
(work.logins) before it is committed; if the broker does not take it, nothing
is stored."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Device, Site
from api.schemas.machines import DeviceCreate, DeviceCredentials
from api.security import new_device_password
from api.services.errors import Conflict, Invalid
from api.services.records import add_row, get, revoke
from api.services.work import Work
from broker import PasswordHash
from broker.accounts import SERVICE_LOGINS


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
        revoked_at=device.revoked_at,
        mqtt_username=device.name,
        mqtt_password=password,
    )


def create_device(work: Work, body: DeviceCreate) -> DeviceCredentials:
    """The MQTT password is returned here once; only its hash is kept. The
    device can log in to the broker as soon as this returns."""
    session, site = work.session, work.site
    if body.name in SERVICE_LOGINS:
        raise Invalid(f"device name {body.name} is taken by a service's broker login "
                      f"({', '.join(SERVICE_LOGINS)})")
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
            mqtt_password_hash=PasswordHash.of(password).passwd_field(),
        ),
    )
    work.logins.grant(site.name, device.name, password)
    try:
        session.commit()
    except Exception:
        work.logins.revoke(device.name)  # no login for a device the api does not hold
        raise
    return _credentials(device, password)


def reset_password(work: Work, device_id: int) -> DeviceCredentials:
    """A new password; the old one stops working at once."""
    device = get(work.session, Device, device_id, "device")
    if device.revoked_at is not None:
        raise Conflict(f"device {device.name} was retired at {device.revoked_at}")
    password = new_device_password()
    device.mqtt_password_hash = PasswordHash.of(password).passwd_field()
    work.audit.record("reset_password", "device", device.id)
    work.logins.grant(work.site.name, device.name, password)
    work.session.commit()
    return _credentials(device, password)


def revoke_device(work: Work, device_id: int) -> Device:
    """Retire a device: its login is disabled (an open session is closed); the
    row stays for the record and its name stays taken."""
    device = revoke(work.audit, get(work.session, Device, device_id, "device"), "device")
    work.logins.revoke(device.name)
    work.session.commit()
    return device


def mosquitto_passwd(session: Session, site: Site) -> str:
    """The active devices' lines for Mosquitto's password file (hashes only)."""
    devices = session.scalars(
        select(Device)
        .where(Device.site_id == site.id, Device.revoked_at.is_(None))
        .order_by(Device.name)
    )
    return "".join(f"{d.name}:{d.mqtt_password_hash}\n" for d in devices)
