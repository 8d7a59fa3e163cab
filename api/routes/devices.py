"""Devices (MQTT nodes) and their broker credentials."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import select

from api.deps import Admin, AuditorDep, SessionDep, SiteDep, Staff
from api.models import Device
from api.routes.common import conflict, get_or_404
from api.schemas.machines import DeviceCreate, DeviceCredentials, DevicePublic
from api.security import mosquitto_hash, new_device_password

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=list[DevicePublic])
def list_devices(_: Staff, session: SessionDep, site: SiteDep) -> list[Device]:
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


@router.post("", response_model=DeviceCredentials, status_code=201)
def create_device(
    body: DeviceCreate, _: Admin, session: SessionDep, site: SiteDep, audit: AuditorDep
) -> DeviceCredentials:
    if session.scalar(select(Device).where(Device.site_id == site.id, Device.name == body.name)):
        raise conflict(f"device {body.name} exists")
    password = new_device_password()
    device = Device(
        site_id=site.id, name=body.name, role=body.role, mqtt_password_hash=mosquitto_hash(password)
    )
    session.add(device)
    audit.created(device)
    session.commit()
    return _credentials(device, password)


@router.post("/{device_id}/password", response_model=DeviceCredentials)
def reset_password(
    device_id: int, _: Admin, session: SessionDep, audit: AuditorDep
) -> DeviceCredentials:
    device = get_or_404(session, Device, device_id, "device")
    password = new_device_password()
    device.mqtt_password_hash = mosquitto_hash(password)
    audit.record("reset_password", "device", device.id)
    session.commit()
    return _credentials(device, password)


@router.get("/passwd", response_class=PlainTextResponse)
def mosquitto_passwd(_: Admin, session: SessionDep, site: SiteDep) -> str:
    """The devices' lines for Mosquitto's password file (hashes only)."""
    devices = session.scalars(select(Device).where(Device.site_id == site.id).order_by(Device.name))
    return "".join(f"{d.name}:{d.mqtt_password_hash}\n" for d in devices)
