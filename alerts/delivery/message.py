"""One notification rendered once for every channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from alerts.models import Alert


@dataclass(frozen=True)
class Message:
    event: str  # fired | resolved
    site: str
    title: str
    text: str
    severity: str
    alert: dict[str, Any]  # machine-readable alert for receivers that want fields


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None:
        """Deliver or raise; the dispatcher retries."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def render(alert: Alert, event: str) -> Message:
    verb = "RESOLVED" if event == "resolved" else alert.severity.upper()
    where = f"{alert.site}/{alert.device}" if alert.site else alert.device
    title = f"[{verb}] {alert.kind.replace('_', ' ')} at {where}"
    text = alert.summary if event == "fired" else f"resolved: {alert.summary}"
    body = {
        "id": alert.id,
        "event": event,
        "dedupe_key": alert.dedupe_key,
        "kind": alert.kind,
        "site": alert.site,
        "device": alert.device,
        "subject": alert.subject,
        "severity": alert.severity,
        "state": alert.state,
        "summary": alert.summary,
        "fired_at": _iso(alert.fired_at),
        "resolved_at": _iso(alert.resolved_at),
        "evidence": alert.evidence,
    }
    return Message(event, alert.site, title, text, alert.severity, body)
