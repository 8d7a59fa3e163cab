from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field

from api.schemas.common import Code, DeviceName, Id, Public, Strict

DeviceRole = Literal["machine", "heating", "meter"]


class DeviceCreate(Strict):
    name: DeviceName
    role: DeviceRole


class DevicePublic(Public):
    id: int
    name: str
    role: str
    created_at: datetime
    revoked_at: datetime | None = None


class DeviceCredentials(DevicePublic):
    """Returned once, at creation or reset: the broker password in clear."""

    mqtt_username: str
    mqtt_password: str


class NodeWifi(Strict):
    ssid: str = Field(max_length=32)
    password: str = Field(default="", max_length=64)


class NodeConfigRequest(Strict):
    """What the admin adds to a node's config: the Wi-Fi (else the api's
    API_NODE_WIFI_* settings) and firmware settings of the node (firmware/config.py:
    e.g. `telemetry_s`, a heating node's `sensors`, `{"pins": {"relay": -1}}` for a
    machine without interlock). The site, device, role, broker login and badge key
    are the api's."""

    wifi: NodeWifi | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


class MachineCreate(Strict):
    code: Code
    name: str = Field(default="", max_length=200)
    kind: str = Field(default="", max_length=64, pattern=r"^[A-Za-z0-9_.:@/+-]*$")
    device_id: Id | None = None
    rated_power_w: int = Field(gt=0, le=10_000_000)
    grace_minutes: int = Field(default=0, ge=0, le=1440)


class MachineUpdate(Strict):
    name: str | None = Field(default=None, max_length=200)
    kind: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:@/+-]*$")
    device_id: Id | None = None
    rated_power_w: int | None = Field(default=None, gt=0, le=10_000_000)
    grace_minutes: int | None = Field(default=None, ge=0, le=1440)


class MachinePublic(Public):
    id: int
    code: str
    name: str
    kind: str
    device_id: int | None
    rated_power_w: int
    grace_minutes: int
    acl_version: int


class TrainingCreate(Strict):
    member_id: Id
    machine_id: Id
    expires_on: date | None = None


class TrainingPublic(Public):
    id: int
    member_id: int
    machine_id: int
    granted_by: int | None
    granted_at: datetime
    expires_on: date | None
    revoked_at: datetime | None


class AclPublic(Strict):
    machine_id: int
    device: str | None
    version: int
    allow: list[str]


class SessionPublic(Public):
    """A badge session on a machine, rebuilt from the node's events."""

    machine: str | None
    device: str
    member_id: int | None
    member: str | None
    start: datetime
    end: datetime | None
    minutes: float | None
    kwh: float | None  # from the node's counter snapshots; None when not reported


class CommandCreate(Strict):
    """A command for one node (docs/protocol.md, cmd). `time` carries the
    server's clock, set by the api; `config` carries {"config": {...}}, the
    node's whole new config.json, which the node validates before taking it."""

    op: Literal["relay_off", "reboot", "config", "time", "ping"]
    args: dict[str, Any] = Field(default_factory=dict)


class CommandSent(Strict):
    device: str
    op: str
    version: int
