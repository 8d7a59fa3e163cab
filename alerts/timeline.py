"""Alert states as points in InfluxDB (measurement `alert`), so that Grafana
shows open alerts and marks firings on its graphs without reading SQL."""

from __future__ import annotations

from collections.abc import Sequence

from alerts.models import OPEN_STATES, Alert
from timeseries.lines import int_field, line, string_field, tag_suffix


def alert_lines(alerts: Sequence[Alert], now_ms: int) -> list[str]:
    out = []
    for alert in alerts:
        pairs = [("site", alert.site), ("kind", alert.kind), ("device", alert.device),
                 ("key", alert.dedupe_key.replace(" ", "_").replace(",", "_").replace("=", "_"))]
        # A gateway's alert has no site; InfluxDB refuses an empty tag value.
        tags = tag_suffix(*(pair for pair in pairs if pair[1]))
        fields = {
            "id": int_field(alert.id),
            "open": int_field(1 if alert.state in OPEN_STATES else 0),
            "state": string_field(alert.state),
            "severity": string_field(alert.severity),
            "summary": string_field(alert.summary),
        }
        out.append(line("alert", tags, fields, now_ms))
    return out
