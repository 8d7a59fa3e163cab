"""Devices (MQTT nodes) and their broker credentials."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import Admin, IdPath, SessionDep, SettingsDep, SiteDep, Staff, WorkDep
from api.models import Device
from api.schemas.machines import (
    CommandCreate,
    CommandSent,
    DeviceCreate,
    DeviceCredentials,
    DevicePublic,
    NodeConfigRequest,
)
from api.services import commands, devices, node_config

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


@router.post(
    "/{device_id}/config",
    response_model=dict[str, Any],
    responses={200: {"description": "the node's config.json (holds its new MQTT password)"}},
)
def issue_node_config(
    device_id: IdPath,
    _: Admin,
    work: WorkDep,
    settings: SettingsDep,
    body: NodeConfigRequest | None = None,
) -> JSONResponse:
    """The node's complete config.json. POST, not GET: it issues the device a new
    MQTT password (a node flashed with an earlier config loses its login)."""
    config = node_config.issue(work, settings, device_id, body or NodeConfigRequest())
    return JSONResponse(
        config,
        headers={
            "Content-Disposition": f'attachment; filename="{config["device"]}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/{device_id}/commands", response_model=CommandSent, status_code=202)
def send_command(
    device_id: IdPath, body: CommandCreate, _: Admin, work: WorkDep
) -> CommandSent:
    """A signed command for the node (relay_off, reboot, config, time, ping)."""
    return commands.send_command(work, device_id, body)


@router.get("/passwd", response_class=PlainTextResponse)
def mosquitto_passwd(_: Admin, session: SessionDep, site: SiteDep) -> str:
    """The active devices' lines for Mosquitto's password file (hashes only), for
    a broker whose logins the admin keeps (API_DEVICE_LOGINS=manual)."""
    return devices.mosquitto_passwd(session, site)
