"""Devices (MQTT nodes) and their broker credentials."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from api.deps import Admin, IdPath, SessionDep, SiteDep, Staff, WorkDep
from api.models import Device
from api.schemas.machines import DeviceCreate, DeviceCredentials, DevicePublic
from api.services import devices

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=list[DevicePublic])
def list_devices(_: Staff, session: SessionDep, site: SiteDep) -> list[Device]:
    return devices.list_devices(session, site)


@router.post("", response_model=DeviceCredentials, status_code=201)
def create_device(body: DeviceCreate, _: Admin, work: WorkDep) -> DeviceCredentials:
    return devices.create_device(work, body)


@router.post("/{device_id}/password", response_model=DeviceCredentials)
def reset_password(device_id: IdPath, _: Admin, work: WorkDep) -> DeviceCredentials:
    return devices.reset_password(work, device_id)


@router.delete("/{device_id}", response_model=DevicePublic)
def revoke_device(device_id: IdPath, _: Admin, work: WorkDep) -> Device:
    """Retire a device: its broker login is disabled at once."""
    return devices.revoke_device(work, device_id)


@router.get("/passwd", response_class=PlainTextResponse)
def mosquitto_passwd(_: Admin, session: SessionDep, site: SiteDep) -> str:
    """The active devices' lines for Mosquitto's password file (hashes only), for
    a broker whose logins the admin keeps (API_DEVICE_LOGINS=manual)."""
    return devices.mosquitto_passwd(session, site)
