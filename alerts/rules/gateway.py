"""The gateways' own state, from their retained status on
mf-gateway/<client id>/status (alerts/gateways.py keeps the newest of each):
a full spool means the gateway stopped acknowledging and the broker is
holding the site's messages. Judged without InfluxDB, which is usually why
the spool filled."""

from __future__ import annotations

from collections.abc import Mapping

from alerts.findings import Finding, Row
from protocol import wire

KIND = "gateway_spool_full"


def evaluate(statuses: Mapping[str, Row]) -> list[Finding]:
    """`statuses`: client id -> its newest status, "time" in Unix ms."""
    found = []
    for client_id, status in sorted(statuses.items()):
        if status.get("state") != wire.GATEWAY_SPOOL_FULL:
            continue
        used, limit = status.get("spool_bytes"), status.get("spool_max_bytes")
        found.append(Finding(
            kind=KIND, site="", device=client_id, severity="critical",
            summary=(f"gateway {client_id}: disk spool full ({used} of {limit} bytes), "
                     "acknowledgements paused; the broker is holding the nodes' messages "
                     "until InfluxDB takes writes again"),
            evidence=[dict(status)],
        ))
    return found
