"""A node's complete config.json, made for a registered device: what an installer
copies onto the board (hardware/README.md) and the simulator runs (--configs).

The firmware's own module builds and checks it (firmware/config.py: the role's
defaults, its pins, which tests/firmware/test_pinmap.py holds equal to
hardware/pinmap.json, and the validation the node runs at boot), so the api can
only hand out a config the node accepts. The device's MQTT password is issued
here (devices.reset_password: only its Mosquitto hash is kept); a node flashed
with an earlier config loses its broker login. Its downlink key is derived,
not stored (api/services/downlink.py): the same in every config it is given."""

from __future__ import annotations

from typing import Any

from api.models import Device
from api.schemas.machines import NodeConfigRequest
from api.services import devices
from api.services.downlink import device_key
from api.services.errors import Invalid
from api.services.records import get
from api.services.work import Work
from api.settings import Settings
from broker import node_tls
from firmware import config as firmware_config

# Written by the api from its records and settings, never by the request.
API_FIELDS = ("site", "device", "role", "mqtt", "badge_key", "downlink_key", "wifi")


def build(settings: Settings, device: Device, password: str, body: NodeConfigRequest) -> dict:
    """The config as the node will run it (every default filled in); Invalid
    naming each problem the node itself would refuse."""
    role = device.role
    known = set(firmware_config.COMMON) | set(firmware_config.ROLE_DEFAULTS[role])
    owned = sorted(set(body.settings) & set(API_FIELDS))
    if owned:
        raise Invalid(
            f"settings: {', '.join(owned)} cannot be set here (the api writes them; "
            "the Wi-Fi goes in `wifi`)"
        )
    unknown = sorted(set(body.settings) - known)
    if unknown:
        raise Invalid(f"settings: no {role} node setting named {', '.join(unknown)}")
    if not settings.node_mqtt_host:
        raise Invalid(
            "API_NODE_MQTT_HOST is not set: the broker's address as the nodes reach it "
            "(an IP address on the site network)"
        )
    try:
        tls = node_tls(settings)  # the CA the api trusts, pinned on the node
    except ValueError as exc:
        raise Invalid(f"the nodes' TLS: {exc}") from None
    wifi = body.wifi.model_dump() if body.wifi is not None else {
        "ssid": settings.node_wifi_ssid,
        "password": settings.node_wifi_password.get_secret_value(),
    }
    raw: dict[str, Any] = {
        **body.settings,
        "site": settings.site,
        "device": device.name,
        "role": role,
        "mqtt": {
            "host": settings.node_mqtt_host,
            "port": settings.node_mqtt_port or (8883 if settings.mqtt_tls else 1883),
            "user": device.name,
            "password": password,
            **tls,
        },
        "wifi": wifi,
        # Every role: each ACL and command to it is signed with this key.
        "downlink_key": device_key(settings, settings.site, device.name),
    }
    if role == "machine":
        raw["badge_key"] = settings.badge_hash_key
    config: dict = firmware_config.merged(raw)
    errors = firmware_config.validate(config)
    if errors:
        raise Invalid(f"{device.name}: " + "; ".join(errors))
    return config


def issue(work: Work, settings: Settings, device_id: int, body: NodeConfigRequest) -> dict:
    """Check the config, then issue the device a new MQTT password and return the
    config holding it; nothing changes when the config would be refused."""
    device = get(work.session, Device, device_id, "device")
    build(settings, device, "", body)
    credentials = devices.reset_password(work, device.id)
    return build(settings, device, credentials.mqtt_password, body)
