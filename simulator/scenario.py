"""Scenario files: which nodes, which people, what happens when.

    {
      "site": "demo", "start": "2026-01-12T06:00:00Z", "duration_s": 86400,
      "base_load_w": 400, "badge_key": "<32+ hex digits>", "downlink_key": "<secret>",
      "mqtt": {"host": "127.0.0.1", "port": 1883, "password": "device-secret"},
        (with "tls": true, "ca": "<the site CA, PEM>", "server_name": "...": TLS, port 8883)
      "members": {"alice": "04:a1:b2:c3", ...},
      "building": {"zones": 2, "boiler_fail_at_s": 50000, "boiler_recover_at_s": 60000},
      "site_server": {"ntp_local": true},
      "nodes": [
        {"device": "node1", "role": "machine", "profile": "laser",
         "sessions_per_day": 4, "users": ["alice"], "config": {...},
         "hardware": {"adc_noise_lsb": 5, "flash_erase_ms": 400}},
        {"device": "node3", "role": "heating"},
        {"device": "node4", "role": "meter", "hardware": {"s0_hz": 10}}
      ],
      "events": [
        {"at_s": 600, "tap": "alice", "device": "node1", "hold_s": 1},
        {"at_s": 7200, "outage": "node1", "for_s": 3600},
        {"at_s": 9000, "reboot": "node2"},
        {"at_s": 9500, "unplug": "node3", "for_s": 600},
        {"at_s": 9600, "unplug": "node1", "for_s": 30, "during_write": "config.json"},
        {"at_s": 9700, "unplug_probe": "node3", "sensor": "t_zone1", "for_s": 3600},
        {"at_s": 9750, "internet": "down", "for_s": 86400},
        {"at_s": 9760, "s0_rate": "node4", "hz": 0},
        {"at_s": 9800, "switch": "node5", "on": true},
        {"at_s": 9900, "weld": "node1"}
      ]
    }

`downlink_key` is the site's master secret for signed ACLs and commands, as
the api's API_DOWNLINK_KEY: each node's config gets the key derived from it
for its own name (protocol/sign.py), as the api's provisioning does.
`config` holds firmware config overrides per node (see firmware/config.py);
the device name is the MQTT user name, `mqtt.password` (or a node's own
`password`) its password. `use_configs` runs the nodes from complete config
files instead (as the api's `node-config` makes them): the scenario then only
adds the world around them (profiles, members' cards and sessions, building).
A machine whose config has `"pins": {"relay": -1}` has no interlock: its own
switch (`switch` events, on or off) decides whether it runs, and members tap
in to claim it. `weld` welds a machine's
interlock contacts closed for the rest of the run. `hardware` sets the
node's device models and their faults (simulator/hardware.py NodeHardware).

`unplug` takes the node's power for `for_s`; with `during_write` (a file
name in its flash, or "*") the power goes at the node's next flash write of
that file from `at_s` on, and that write does not happen. `unplug_probe`
disconnects one DS18B20 of a heating node for `for_s`. `internet` takes the
building's uplink down for `for_s` with the LAN up: the site server's NTP
keeps serving its own clock (`site_server.ntp_local`, true) or answers "not
synchronised"; an `ntp_host` other than the site server gets no answer.
`s0_rate` turns the pulse generator of a node whose hardware has `s0_hz`.
"""

from __future__ import annotations

import calendar
import copy
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from protocol import sign, wire
from protocol.badge import badge_hash, parse_key, uid_from_hex
from simulator.devices.onewire import crc8

EVENT_KINDS = ("tap", "outage", "reboot", "unplug", "unplug_probe", "internet", "s0_rate",
               "switch", "weld")


class ScenarioError(ValueError):
    pass


def _rom(device: str, name: str) -> str:
    """A stable, made-up 1-Wire ROM id per sensor: family 0x28 (DS18B20), a
    48-bit serial, and the CRC the sensor's ROM carries."""
    body = bytes.fromhex("28" + hashlib.sha256(f"{device}/{name}".encode()).hexdigest()[:12])
    return (body + bytes((crc8(body),))).hex()


class Scenario:
    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise ScenarioError("a scenario is a JSON object")
        self.data = data
        self.site = str(data.get("site", "demo"))
        wire.check_name("site", self.site)
        self.duration_s = float(data.get("duration_s", 86400))
        self.start_unix_ms = _parse_start(data.get("start"))
        self.base_load_w = float(data.get("base_load_w", 400))
        key = data.get("badge_key", "00112233445566778899aabbccddeeff")
        try:
            self.badge_key = parse_key(key)
        except ValueError as exc:
            raise ScenarioError(f"badge_key: {exc}") from exc
        self.badge_key_hex = key
        self.downlink_master = str(data.get("downlink_key", "simulated-site-downlink-key"))
        self.mqtt: dict[str, Any] = dict(data.get("mqtt") or {})
        self.members: dict[str, str] = dict(data.get("members") or {})
        building = data.get("building") or {}
        self.zones = int(building.get("zones", 2))
        fail = building.get("boiler_fail_at_s")
        self.boiler_fail_at_s = float(fail) if fail is not None else None
        recover = building.get("boiler_recover_at_s")
        self.boiler_recover_at_s = float(recover) if recover is not None else None
        if recover is not None and (fail is None or float(recover) <= float(fail)):
            raise ScenarioError("building.boiler_recover_at_s must come after boiler_fail_at_s")
        site_server = data.get("site_server") or {}
        if not isinstance(site_server, dict) or not isinstance(
                site_server.get("ntp_local", True), bool):
            raise ScenarioError("site_server.ntp_local must be true or false")
        self.ntp_local = bool(site_server.get("ntp_local", True))
        self.nodes: list[dict[str, Any]] = list(data.get("nodes") or [])
        self.events: list[dict[str, Any]] = list(data.get("events") or [])
        self._check()

    @classmethod
    def load(cls, path: Path | str) -> Scenario:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
        return cls(data)

    def _check(self) -> None:
        if not self.nodes:
            raise ScenarioError("a scenario needs at least one node")
        names = set()
        for spec in self.nodes:
            device = spec.get("device")
            try:
                wire.check_name("device", str(device) if isinstance(device, str) else "")
            except wire.ProtocolError as exc:
                raise ScenarioError(f"node {device!r}: {exc.detail}") from exc
            if device in names:
                raise ScenarioError(f"node {device!r} appears twice")
            names.add(device)
            if spec.get("role") not in wire.ROLES:
                roles = ", ".join(wire.ROLES)
                raise ScenarioError(f"node {device}: role must be one of {roles}")
        for event in self.events:
            kinds = [k for k in EVENT_KINDS if k in event]
            if len(kinds) != 1 or not isinstance(event.get("at_s"), (int, float)):
                known = ", ".join(EVENT_KINDS)
                raise ScenarioError(f"event {event}: needs at_s and one of {known}")
            kind = kinds[0]
            timed = kind in ("outage", "unplug", "unplug_probe", "internet")
            if timed and not isinstance(event.get("for_s"), (int, float)):
                raise ScenarioError(f"event {event}: needs for_s")
            if kind == "internet":
                if event["internet"] != "down":
                    raise ScenarioError(f"event {event}: internet must be \"down\"")
                continue
            target = event.get("device") if kind == "tap" else event[kind]
            if target not in names:
                raise ScenarioError(f"event {event}: no node {target!r}")
            if kind == "tap" and event["tap"] not in self.members:
                raise ScenarioError(f"event {event}: no member {event['tap']!r}")
            spec = next(spec for spec in self.nodes if spec["device"] == target)
            self._check_hardware_event(event, kind, spec)
            if kinds[0] == "switch" and (spec["role"] != "machine" or self.interlocked(spec)):
                raise ScenarioError(f"event {event}: {target} is not a machine without interlock")
            if kinds[0] == "switch" and not isinstance(event.get("on"), bool):
                raise ScenarioError(f"event {event}: needs on (true or false)")
            if kinds[0] == "weld" and not self.interlocked(spec):
                raise ScenarioError(f"event {event}: {target} has no interlock to weld")

    def use_configs(self, configs: dict[str, dict[str, Any]]) -> None:
        """Run the nodes from these complete configs (device -> config.json, see
        `load_configs`): every node of the scenario needs one; a config with no
        node in the scenario joins as a node of its role with the defaults (a
        laser for a machine). The site and the badge key are then the configs'."""
        missing = [s["device"] for s in self.nodes if s["device"] not in configs]
        if missing:
            raise ScenarioError(f"no config file for node(s) {', '.join(missing)}")
        sites = {str(c.get("site")) for c in configs.values()}
        if len(sites) != 1:
            raise ScenarioError(f"the configs are for several sites: {', '.join(sorted(sites))}")
        keys = {c["badge_key"] for c in configs.values() if c.get("role") == "machine"}
        if len(keys) > 1:
            raise ScenarioError("the machine configs hold different badge keys")
        known = {s["device"] for s in self.nodes}
        for device in sorted(set(configs) - known):
            self.nodes.append({"device": device, "role": configs[device].get("role")})
        for spec in self.nodes:
            config = configs[spec["device"]]
            if config.get("role") != spec["role"]:
                raise ScenarioError(
                    f"node {spec['device']}: the scenario says {spec['role']}, "
                    f"its config {config.get('role')}"
                )
            spec["config_file"] = config
        self.site = sites.pop()
        if keys:
            self.badge_key_hex = keys.pop()
            try:
                self.badge_key = parse_key(self.badge_key_hex)
            except ValueError as exc:
                raise ScenarioError(f"badge_key: {exc}") from exc
        self._check()

    def _check_hardware_event(self, event: dict[str, Any], kind: str,
                              spec: dict[str, Any]) -> None:
        hardware = spec.get("hardware") or {}
        if kind == "unplug" and not isinstance(event.get("during_write", ""), str):
            raise ScenarioError(f"event {event}: during_write must be a file name or \"*\"")
        if kind == "unplug_probe":
            names = ["t_flow", "t_return"] + [f"t_zone{k + 1}" for k in range(self.zones)]
            sensors = (spec.get("config") or {}).get("sensors") or names
            if spec["role"] != "heating" or event.get("sensor") not in sensors:
                raise ScenarioError(f"event {event}: needs the sensor of a heating node")
        if kind == "s0_rate":
            if hardware.get("s0_hz") is None:
                raise ScenarioError(f"event {event}: {spec['device']} has no s0_hz generator")
            hz = event.get("hz")
            if not isinstance(hz, (int, float)) or isinstance(hz, bool) or hz < 0:
                raise ScenarioError(f"event {event}: needs hz >= 0")

    @staticmethod
    def interlocked(spec: dict[str, Any]) -> bool:
        """A machine node with its interlock relay fitted: the firmware's
        default pin unless the node's config sets pins.relay to -1."""
        config = spec.get("config_file") or spec.get("config") or {}
        pins = config.get("pins") or {}
        return spec.get("role") == "machine" and pins.get("relay") != -1

    def node_config(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The firmware config a node's flash starts with."""
        if "config_file" in spec:
            return copy.deepcopy(spec["config_file"])
        role = spec["role"]
        device = spec["device"]
        cfg: dict[str, Any] = {
            "site": self.site,
            "device": device,
            "role": role,
            "mqtt": {
                "host": self.mqtt.get("host", "127.0.0.1"),
                "port": int(self.mqtt.get("port", 8883 if self.mqtt.get("tls") else 1883)),
                "user": device,
                "password": spec.get("password", self.mqtt.get("password", "")),
                # The firmware's TLS option (firmware/config.py check_tls).
                **{key: self.mqtt[key] for key in ("tls", "ca", "server_name")
                   if key in self.mqtt},
            },
            "wifi": {"ssid": "workshop", "password": "simulated"},
            "downlink_key": self.device_key(device).hex(),
        }
        if role == "machine":
            cfg["badge_key"] = self.badge_key_hex
        if role == "heating":
            names = ["t_flow", "t_return"] + [f"t_zone{k + 1}" for k in range(self.zones)]
            cfg["sensors"] = {name: _rom(device, name) for name in names}
        overrides = copy.deepcopy(spec.get("config") or {})
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(cfg.get(key), dict):
                cfg[key].update(value)
            else:
                cfg[key] = value
        return cfg

    def acl_for(self, spec: dict[str, Any]) -> list[str]:
        """Badge hashes of the members allowed on a machine node."""
        users = spec.get("users") or list(self.members)
        return [badge_hash(self.badge_key, uid_from_hex(self.members[u])) for u in users]

    def device_key(self, device: str) -> bytes:
        return sign.device_key(self.downlink_master, self.site, device)

    def sealed(self, device: str, channel: str, msg: dict[str, Any]) -> bytes:
        """A downlink message for one node, signed with its key as the api signs."""
        return sign.seal(channel, self.device_key(device), msg)

    def acl_messages(self, version: int | None = None) -> list[tuple[str, bytes]]:
        """(topic, payload) of each machine node's allow-list: what the api
        would publish, retained, for a run without it. The version is the
        api's first of an epoch at the current time unless given, so a later
        run's lists replace an earlier run's on the nodes' flash."""
        ver = sign.first_version(int(time.time() * 1000)) if version is None else version
        return [(wire.topic(self.site, spec["device"], "acl"),
                 self.sealed(spec["device"], "acl", wire.acl(ver, self.acl_for(spec))))
                for spec in self.nodes if spec["role"] == "machine"]


def load_configs(folder: Path | str) -> dict[str, dict[str, Any]]:
    """Every *.json in `folder` as a node's config.json, keyed by its device."""
    configs: dict[str, dict[str, Any]] = {}
    paths = sorted(Path(folder).glob("*.json"))
    if not paths:
        raise ScenarioError(f"no config files (*.json) in {folder}")
    for path in paths:
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"cannot read config {path}: {exc}") from exc
        device = config.get("device") if isinstance(config, dict) else None
        if not isinstance(device, str):
            raise ScenarioError(f"{path}: not a node config (no device)")
        if device in configs:
            raise ScenarioError(f"{path}: a second config for {device}")
        configs[device] = config
    return configs


def _parse_start(text: Any) -> int:
    if text is None:
        return int(time.time() * 1000)
    try:
        parsed = time.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError as exc:
        raise ScenarioError("start must look like 2026-01-12T06:00:00Z") from exc
    return calendar.timegm(parsed) * 1000
