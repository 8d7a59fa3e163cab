"""What a rule returns: one condition seen now, with the readings behind it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]  # one InfluxDB row: column -> value, "time" in Unix ms


def dedupe_key(kind: str, site: str, device: str, subject: str = "") -> str:
    """Repeated firings of one condition share this key and stay one alert."""
    return ":".join([kind, site, device, subject] if subject else [kind, site, device])


@dataclass(frozen=True)
class Finding:
    kind: str  # heating, device_offline, sensor_implausible, machine_left_on, ...
    site: str
    device: str
    summary: str
    subject: str = ""  # narrows the condition (a field name); "" for the whole device
    severity: str = "warning"  # warning | critical
    evidence: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        return dedupe_key(self.kind, self.site, self.device, self.subject)
