"""What a rule returns: one condition seen now, with the readings behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]  # one InfluxDB row: column -> value, "time" in Unix ms


def dedupe_key(kind: str, site: str, device: str, subject: str = "") -> str:
    """Repeated firings of one condition share this key and stay one alert.
    A condition of the server itself (a gateway) has no site."""
    return ":".join(part for part in (kind, site, device, subject) if part)


@dataclass(frozen=True)
class Finding:
    kind: str  # heating, device_offline, sensor_implausible, machine_left_on, ...
    site: str  # "" for the server's own parts (a gateway)
    device: str  # a node, or a gateway's MQTT client id
    summary: str
    subject: str = ""  # narrows the condition (a field name); "" for the whole device
    severity: str = "warning"  # warning | critical
    evidence: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        return dedupe_key(self.kind, self.site, self.device, self.subject)
