"""Devices (MQTT nodes) and their broker credentials."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from api.deps import Admin, SessionDep, SiteDep, Staff, WorkDep
from api.models import Device
from api.schemas.machines import (
    CommandCreate,
    CommandSent,
    DeviceCreate,
    DeviceCredentials,
    DevicePublic,
)
from api.services import commands, devices

router = APIRouter(prefix="/devices", tags=["devices"])


@router.get("", response_model=list[DevicePublic])
def list_devices(_: Staff, session: SessionDep, site: SiteDep) -> list[Device]:
    return devices.list_devices(session, site)


@router.post("", response_model=DeviceCredentials, status_code=201)
def create_device(body: DeviceCreate, _: Admin, work: WorkDep) -> DeviceCredentials:
    return devices.create_device(work, body)


@router.post("/{device_id}/password", response_model=DeviceCredentials)
def reset_password(device_id: int, _: Admin, work: WorkDep) -> DeviceCredentials:
    return devices.reset_password(work, device_id)


@router.post("/{device_id}/commands", response_model=CommandSent, status_code=202)
def send_command(
    device_id: int, body: CommandCreate, _: Admin, work: WorkDep
) -> CommandSent:
    """A signed command for the node (relay_off, reboot, config, time, ping)."""
    return commands.send_command(work, device_id, body)


@router.get("/passwd", response_class=PlainTextResponse)
def mosquitto_passwd(_: Admin, session: SessionDep, site: SiteDep) -> str:
    """The devices' lines for Mosquitto's password file (hashes only)."""
    return devices.mosquitto_passwd(session, site)
