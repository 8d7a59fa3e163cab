"""Small builders for the panel JSON the dashboards share (Grafana 11 schema)."""

from __future__ import annotations

from typing import Any

from dashboards import ALERTS_DATASOURCE_UID, DATASOURCE_UID

Json = dict[str, Any]
DATASOURCE: Json = {"type": "influxdb", "uid": DATASOURCE_UID}
ALERTS: Json = {"type": "influxdb", "uid": ALERTS_DATASOURCE_UID}

# Which rows belong to which kind of node, by the counters only that role has
# (data contract): meters count pulses, machines on_s, heating nodes burn_s.
METER = '"pulses" >= 0'
MACHINE = '"on_s" >= 0'
HEATING = '"burn_s" >= 0'


def target(query: str, ref: str = "A", alias: str = "", fmt: str = "time_series",
           source: Json = DATASOURCE) -> Json:
    out: Json = {
        "refId": ref, "datasource": source, "query": query, "rawQuery": True,
        "resultFormat": fmt,
    }
    if alias:
        out["alias"] = alias
    return out


def _panel(kind: str, title: str, targets: list[Json], grid: tuple[int, int, int, int],
           unit: str = "", options: Json | None = None, description: str = "",
           mappings: list[Json] | None = None, decimals: int | None = None,
           source: Json = DATASOURCE) -> Json:
    x, y, w, h = grid
    defaults: Json = {}
    if unit:
        defaults["unit"] = unit
    if mappings:
        defaults["mappings"] = mappings
    if decimals is not None:
        defaults["decimals"] = decimals
    panel: Json = {
        "type": kind, "title": title, "datasource": source,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
    }
    if description:
        panel["description"] = description
    return panel


def stat(title: str, query: str, grid: tuple[int, int, int, int], unit: str = "",
         mappings: list[Json] | None = None, description: str = "",
         decimals: int | None = None, source: Json = DATASOURCE) -> Json:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value", "graphMode": "none", "textMode": "auto",
    }
    return _panel("stat", title, [target(query, source=source)], grid, unit, options,
                  description, mappings, decimals, source)


def timeseries(title: str, targets: list[Json], grid: tuple[int, int, int, int],
               unit: str = "", description: str = "") -> Json:
    options = {"legend": {"showLegend": True, "displayMode": "list", "placement": "bottom",
                          "calcs": []},
               "tooltip": {"mode": "multi", "sort": "none"}}
    return _panel("timeseries", title, targets, grid, unit, options, description)


def bars(title: str, targets: list[Json], grid: tuple[int, int, int, int], unit: str = "",
         description: str = "") -> Json:
    """Daily totals as bars: a time series drawn with bars."""
    panel = timeseries(title, targets, grid, unit, description)
    panel["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "bars", "fillOpacity": 80}
    return panel


def state_timeline(title: str, targets: list[Json], grid: tuple[int, int, int, int],
                   mappings: list[Json], description: str = "") -> Json:
    options = {"showValue": "never", "mergeValues": True, "rowHeight": 0.8}
    return _panel("state-timeline", title, targets, grid, "", options, description, mappings)


def table(title: str, query: str, grid: tuple[int, int, int, int], description: str = "",
          unit: str = "", source: Json = DATASOURCE) -> Json:
    options = {"showHeader": True, "cellHeight": "sm"}
    return _panel("table", title, [target(query, fmt="table", source=source)], grid, unit,
                  options, description, source=source)


def on_off(off: str, on: str) -> list[Json]:
    return [{"type": "value", "options": {
        "0": {"text": off, "color": "green", "index": 0},
        "1": {"text": on, "color": "red", "index": 1},
    }}]


def device_variable(name: str, label: str) -> Json:
    """A multi-value device picker (All by default), filled from InfluxDB. SHOW
    TAG VALUES cannot filter on fields, so it lists every device; the panels
    keep only the rows of their role."""
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
        "query": 'SHOW TAG VALUES FROM "telemetry" WITH KEY = "device"',
        "refresh": 2, "multi": True, "includeAll": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


# Long ranges read the rollups (timeseries/rollup.py): this hidden variable asks
# InfluxDB which retention policy covers the dashboard's range (the `rollup_map`
# points the api writes), and the line charts read `"$rollup"."telemetry"`.
ROLLUP = '"$rollup"'


def rollup_variable() -> Json:
    return {
        "name": "rollup", "label": "Retention policy", "type": "query", "datasource": DATASOURCE,
        "query": 'SELECT first("policy") FROM "rollup_1h"."rollup_map" '
                 'WHERE "max_span_ms" >= $__range_ms',
        "refresh": 2, "hide": 2, "multi": False, "includeAll": False,
        "current": {"selected": True, "text": "autogen", "value": "autogen"},
        "description": "raw readings for two days or less, 15-minute rollups up to 8 days, "
                       "hourly rollups beyond",
    }


def dashboard(uid: str, title: str, panels: list[Json], variables: list[Json] | None = None,
              description: str = "", time_from: str = "now-24h") -> Json:
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "uid": uid, "title": title, "description": description,
        "tags": ["workshop-monitor"], "timezone": "browser", "editable": True,
        "graphTooltip": 1, "schemaVersion": 39, "version": 1, "refresh": "1m",
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": [rollup_variable(), *(variables or [])]},
        "annotations": {"list": []},
        "links": [{"title": "Workshop monitor", "type": "dashboards", "tags": ["workshop-monitor"],
                   "asDropdown": True, "includeVars": False, "keepTime": True,
                   "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""}],
        "panels": panels,
    }
