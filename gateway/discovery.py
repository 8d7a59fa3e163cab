"""Home Assistant MQTT discovery: a retained sensor config for every counter
and reading a device sends, so the building shows up in Home Assistant with
no configuration. Home Assistant then reads the node's own telemetry topic."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from protocol import wire

# name (or name prefix) -> what Home Assistant needs to show it well
_KNOWN: dict[str, dict[str, str]] = {
    "wh": {"device_class": "energy", "unit_of_measurement": "Wh",
           "state_class": "total_increasing"},
    "on_s": {"device_class": "duration", "unit_of_measurement": "s",
             "state_class": "total_increasing"},
    "burn_s": {"device_class": "duration", "unit_of_measurement": "s",
               "state_class": "total_increasing"},
    "pulses": {"state_class": "total_increasing"},
    "w": {"device_class": "power", "unit_of_measurement": "W", "state_class": "measurement"},
    "a": {"device_class": "current", "unit_of_measurement": "A", "state_class": "measurement"},
    "t_": {"device_class": "temperature", "unit_of_measurement": "°C",
           "state_class": "measurement"},
}


def _hints(name: str) -> dict[str, str]:
    if name in _KNOWN:
        return _KNOWN[name]
    return _KNOWN["t_"] if name.startswith("t_") else {"state_class": "measurement"}


def sensor_config(site: str, device: str, group: str, name: str) -> dict[str, Any]:
    """`group` is "ct" (counter) or "rd" (reading)."""
    unique = f"mf_{site}_{device}_{name}"
    status = wire.topic(site, device, "status")
    return {
        "name": name,
        "unique_id": unique,
        "object_id": unique,
        "state_topic": wire.topic(site, device, "telemetry"),
        "value_template": "{{ value_json." + group + "." + name + " }}",
        "availability_topic": status,
        "availability_template": "{{ value_json.state }}",
        "device": {
            "identifiers": [f"mf_{site}_{device}"],
            "name": f"{site} {device}",
            "manufacturer": "workshop-monitor",
        },
        **_hints(name),
    }


class Discovery:
    def __init__(self, prefix: str, publish: Callable[[str, bytes, bool], None]) -> None:
        self.prefix = prefix
        self._publish = publish
        self._announced: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def telemetry(self, site: str, device: str, message: dict[str, Any]) -> None:
        for group in ("ct", "rd"):
            for name in message.get(group, {}):
                key = (site, device, name)
                if key in self._announced:
                    continue
                with self._lock:
                    self._announced.add(key)
                config = sensor_config(site, device, group, name)
                topic = f"{self.prefix}/sensor/{config['unique_id']}/config"
                self._publish(topic, json.dumps(config).encode(), True)
