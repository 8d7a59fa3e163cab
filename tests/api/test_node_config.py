"""A node's config.json from the api (POST /devices/{id}/config and the CLI's
`node-config`): complete, accepted by the firmware's own validation, holding a
freshly issued MQTT password whose hash alone is stored; refused input changes
nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.cli import main
from api.models import Device
from api.services import downlink
from firmware import config as firmware_config
from protocol import downlink as signed
from protocol import sign, wire
from tests.api.conftest import BADGE_KEY, DOWNLINK_KEY, SITE, Api, make_settings

PINMAP = json.loads((Path(__file__).resolve().parents[2] / "hardware" / "pinmap.json").read_text())
NODE_BROKER = {"node_mqtt_host": "192.168.10.5", "node_mqtt_port": 1884}
SENSORS = {
    "t_flow": "28aaaaaaaaaaaaaa", "t_return": "28bbbbbbbbbbbbbb", "t_zone1": "28cccccccccccccc"
}


def verify_mosquitto_password(password: str, stored: str) -> bool:
    """Mosquitto's own `$7$` check (PBKDF2-SHA512: iterations, salt, digest)."""
    _, seven, iterations, salt, digest = stored.split("$")
    assert seven == "7"
    mine = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt), int(iterations), dklen=64
    )
    return mine == base64.b64decode(digest)


def _device(api: Api, name: str, role: str) -> dict[str, Any]:
    created: dict[str, Any] = api.ok("admin", "POST", "/devices", json={"name": name, "role": role})
    return created


def _stored_hash(api: Api, name: str) -> str:
    with api.session() as session:
        return str(session.scalar(select(Device.mqtt_password_hash).where(Device.name == name)))


@pytest.mark.parametrize("role", ["machine", "heating", "meter"])
def test_the_config_of_each_role_passes_the_firmwares_own_check(
    make_api: Callable[..., Api], role: str
) -> None:
    api = make_api(**NODE_BROKER, node_wifi_ssid="workshop", node_wifi_password="wifi-secret")
    device = _device(api, f"{role}1", role)
    body = {"settings": {"sensors": SENSORS, "telemetry_s": 30}} if role == "heating" else None
    response = api.call("admin", "POST", f"/devices/{device['id']}/config", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'attachment; filename="{role}1.json"'
    config = response.json()
    # What the node does at boot with /config.json:
    parsed, errors = firmware_config.parse(response.text)
    assert errors == [] and parsed == config  # complete: no default left to fill in
    assert (config["site"], config["device"], config["role"]) == (SITE, f"{role}1", role)
    assert config["mqtt"]["host"] == "192.168.10.5" and config["mqtt"]["port"] == 1884
    assert config["mqtt"]["user"] == f"{role}1"
    assert config["wifi"] == {"ssid": "workshop", "password": "wifi-secret"}
    wired = {name: entry["gpio"] for name, entry in PINMAP["roles"][role].items()}
    assert config["pins"] == wired
    assert config["badge_key"] == (BADGE_KEY if role == "machine" else "")
    # Its own downlink key, every role: what the api signs this node's ACLs and
    # commands with, and no other node's.
    key = signed.key_from_hex(config["downlink_key"])
    assert key == downlink.signer(make_settings("sqlite://")).key(SITE, f"{role}1")
    assert key != downlink.signer(make_settings("sqlite://")).key(SITE, f"{role}2")
    signed.check("cmd", key, sign.seal("cmd", key, wire.cmd("ping", 1, 1)))
    if role == "heating":
        assert config["sensors"] == SENSORS and config["telemetry_s"] == 30
    # The password in the config is the device's; the api kept only its hash.
    password = config["mqtt"]["password"]
    assert len(password) >= 20 and password != device["mqtt_password"]
    stored = _stored_hash(api, f"{role}1")
    assert stored.startswith("$7$") and password not in stored
    assert verify_mosquitto_password(password, stored)
    assert not verify_mosquitto_password(device["mqtt_password"], stored)  # the old one is gone


def test_refused_requests_change_nothing(make_api: Callable[..., Api]) -> None:
    api = make_api(**NODE_BROKER)
    device = _device(api, "laser1", "machine")
    heating = _device(api, "boiler1", "heating")
    before, hashes = api.counts(), (_stored_hash(api, "laser1"), _stored_hash(api, "boiler1"))
    path = f"/devices/{device['id']}/config"
    cases: list[tuple[str, str, str, Any, int, str]] = [
        ("coordinator", "POST", path, None, 403, ""),
        ("admin", "GET", path, None, 405, ""),
        ("admin", "POST", "/devices/999/config", None, 404, "device 999 not found"),
        ("admin", "POST", path, {"settings": {"pins": {"relay": 12}}}, 422,
         "laser1: pin relay: GPIO12 is a strapping pin (boot mode)"),
        ("admin", "POST", path, {"settings": {"telemetry_sec": 10}}, 422,
         "no machine node setting named telemetry_sec"),
        ("admin", "POST", path, {"settings": {"badge_key": "00" * 16}}, 422,
         "badge_key cannot be set here"),
        ("admin", "POST", path, {"settings": {"downlink_key": "00" * 32}}, 422,
         "downlink_key cannot be set here"),
        ("admin", "POST", path, {"wifi": {"ssid": "x" * 33}}, 422, "at most 32 characters"),
        ("admin", "POST", f"/devices/{heating['id']}/config",
         {"settings": {"sensors": {"t_flow": "28AAAAAAAAAAAAAA"}}}, 422, "lower-case hex"),
    ]
    for who, method, url, body, status, words in cases:
        response = api.call(who, method, url, json=body)
        assert response.status_code == status, (url, body, response.text)
        assert words in response.text, response.text
    assert api.counts() == before
    assert (_stored_hash(api, "laser1"), _stored_hash(api, "boiler1")) == hashes


def test_without_the_nodes_broker_address_no_config_is_made(
    make_api: Callable[..., Api],
) -> None:
    api = make_api()  # API_NODE_MQTT_HOST not set
    device = _device(api, "laser1", "machine")
    before = _stored_hash(api, "laser1")
    response = api.call("admin", "POST", f"/devices/{device['id']}/config")
    assert response.status_code == 422 and "API_NODE_MQTT_HOST is not set" in response.text
    assert _stored_hash(api, "laser1") == before


def test_the_cli_writes_the_same_config(
    make_api: Callable[..., Api],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    api = make_api(**NODE_BROKER)
    _device(api, "kiln1", "machine")
    for key, value in {
        "API_DATABASE_URL": database_url, "API_SITE": SITE, "API_BADGE_HASH_KEY": BADGE_KEY,
        "API_DOWNLINK_KEY": DOWNLINK_KEY, "API_NODE_MQTT_HOST": "10.0.0.7",
        "API_DEVICE_LOGINS": "manual",
    }.items():
        monkeypatch.setenv(key, value)
    settings = tmp_path / "kiln.json"
    settings.write_text(json.dumps({"pins": {"relay": -1}, "power": "pzem"}))
    out = tmp_path / "kiln1.json"
    code = main(["node-config", "kiln1", "--out", str(out), "--settings", str(settings),
                 "--set", "telemetry_s=15", "--wifi-ssid", "hall-b", "--wifi-password", "pw"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "issued a new MQTT password for kiln1" in err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds a password
    config, errors = firmware_config.parse(out.read_text())
    assert errors == []
    assert config["pins"]["relay"] == -1 and config["power"] == "pzem"
    assert config["telemetry_s"] == 15 and config["wifi"] == {"ssid": "hall-b", "password": "pw"}
    assert config["mqtt"]["host"] == "10.0.0.7" and config["badge_key"] == BADGE_KEY
    assert config["downlink_key"] == downlink.device_key(make_settings("sqlite://"), SITE, "kiln1")
    assert verify_mosquitto_password(config["mqtt"]["password"], _stored_hash(api, "kiln1"))
    before = _stored_hash(api, "kiln1")
    code = main(["node-config", "kiln1", "--set", "sample_ms=-5"])
    _, err = capsys.readouterr()
    assert code == 2 and "sample_ms must be a positive number" in err
    assert _stored_hash(api, "kiln1") == before
