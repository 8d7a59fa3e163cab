"""The five dashboards, written to dashboards/json/ by `python -m dashboards.build`.
The JSON files are what Grafana loads; this module is where they are edited
(a test checks the files match it)."""

from __future__ import annotations

import json

from dashboards import JSON_DIR
from dashboards.panels import (
    ALERTS,
    HEATING,
    MACHINE,
    METER,
    ROLLUP,
    Json,
    bars,
    dashboard,
    device_variable,
    on_off,
    stat,
    state_timeline,
    table,
    target,
    timeseries,
)

BUCKET = "GROUP BY time($__interval)"


def per_device(select: str, where: str, fill: str = "null", alias: str = "$tag_device",
               measurement: str = "telemetry", rolled: bool = True) -> Json:
    """One series per device, in Grafana's time buckets; from the rollup that covers
    the range (rolled: means, minima, maxima, newest values), or from raw readings."""
    source = f'{ROLLUP}."{measurement}"' if rolled else f'"{measurement}"'
    return target(f'SELECT {select} FROM {source} WHERE {where} AND $timeFilter '
                  f'{BUCKET}, "device" fill({fill})', "A", alias)


def per_day(select: str, where: str, measurement: str = "telemetry") -> Json:
    """One bar per device and day."""
    return target(f'SELECT {select} FROM "{measurement}" WHERE {where} AND $timeFilter '
                  'GROUP BY time(1d), "device"', "A", "$tag_device")


# Daily totals from cumulative counters: spread = last - first of the day, so
# every day of the range gets its bar (a difference to the previous day would
# drop the first). Counters survive reboots, so a reset is rare; its day shows
# too much and is visible as such.


def overview() -> Json:
    return dashboard("wm-overview", "Workshop: building overview", [
        stat("Boiler", f'SELECT last("call") FROM "telemetry" WHERE {HEATING} AND $timeFilter '
             'GROUP BY "device"', (0, 0, 4, 4), mappings=on_off("idle", "calling")),
        stat("Flow temperature", f'SELECT last("t_flow") FROM "telemetry" WHERE {HEATING} AND '
             "$timeFilter GROUP BY \"device\"", (4, 0, 4, 4), unit="celsius", decimals=1),
        stat("Zones", f'SELECT last(/^t_zone/) FROM "telemetry" WHERE {HEATING} AND '
             '$timeFilter GROUP BY "device"', (8, 0, 4, 4), unit="celsius", decimals=1),
        stat("Machines running", 'SELECT sum("running") FROM (SELECT last("running") AS '
             f'"running" FROM "telemetry" WHERE {MACHINE} AND $timeFilter GROUP BY "device")',
             (12, 0, 4, 4), decimals=0),
        stat("Devices online", 'SELECT sum("online") FROM (SELECT last("online") AS "online" '
             'FROM "status" WHERE $timeFilter GROUP BY "device")', (16, 0, 4, 4), decimals=0,
             description="Devices whose newest status says online (a last will says offline)."),
        stat("Open alerts", 'SELECT sum("open") FROM (SELECT last("open") AS "open" FROM "alert" '
             'WHERE $timeFilter GROUP BY "key")', (20, 0, 4, 4), decimals=0, source=ALERTS),
        timeseries("Heating", [
            target(f'SELECT mean("t_flow") FROM {ROLLUP}."telemetry" WHERE {HEATING} AND '
                   f'$timeFilter {BUCKET}, "device" fill(null)', "A", "flow $tag_device"),
            target(f'SELECT mean(/^t_zone/) FROM {ROLLUP}."telemetry" WHERE {HEATING} AND '
                   f'$timeFilter {BUCKET}, "device" fill(null)', "B", "$col $tag_device"),
        ], (0, 4, 12, 8), unit="celsius"),
        timeseries("Building power", [
            per_device('mean("w")', METER),
        ], (12, 4, 12, 8), unit="watt"),
        table("Recent alerts", 'SELECT "state", "severity", "kind", "device", "summary" '
              'FROM "alert" WHERE $timeFilter ORDER BY time DESC LIMIT 50', (0, 12, 24, 8),
              source=ALERTS),
    ], description="Heating, machines in use, devices online, alerts at a glance.")


def heating() -> Json:
    return dashboard("wm-heating", "Workshop: heating", [
        timeseries("Flow and return", [
            per_device('mean("t_flow") AS "flow", mean("t_return") AS "return"', HEATING,
                       alias="$col $tag_device"),
        ], (0, 0, 12, 9), unit="celsius"),
        timeseries("Zones", [
            per_device("mean(/^t_zone/)", HEATING, alias="$col $tag_device"),
        ], (12, 0, 12, 9), unit="celsius"),
        state_timeline("Boiler call", [
            per_device('max("call")', HEATING, fill="previous", rolled=False),
        ], (0, 9, 24, 5), on_off("idle", "calling")),
        timeseries("Flow - return difference", [
            per_device('mean("t_flow") - mean("t_return")', HEATING),
        ], (0, 14, 12, 8), unit="celsius",
            description="Collapses towards 0 when the burner stops while the pump runs."),
        bars("Burner hours per day", [
            per_day('spread("burn_s") / 3600', HEATING),
        ], (12, 14, 12, 8), unit="h"),
    ], time_from="now-2d")


def machines() -> Json:
    pick = '"device" =~ /^$machine$/'
    return dashboard("wm-machines", "Workshop: machines and sessions", [
        timeseries("Power per machine", [
            per_device('mean("w")', f"{MACHINE} AND {pick}"),
        ], (0, 0, 24, 8), unit="watt"),
        state_timeline("Running", [
            per_device('max("running")', f"{MACHINE} AND {pick}", fill="previous", rolled=False),
        ], (0, 8, 12, 6), on_off("off", "running")),
        state_timeline("Interlock relay", [
            per_device('max("relay")', f"{MACHINE} AND {pick}", fill="previous", rolled=False),
        ], (12, 8, 12, 6), on_off("open", "closed")),
        bars("Sessions per day", [
            per_day('count("sid")', f'"kind" = \'session_start\' AND {pick}', "event"),
        ], (0, 14, 12, 8)),
        bars("Machine-on hours per day", [
            per_day('spread("on_s") / 3600', f"{MACHINE} AND {pick}"),
        ], (12, 14, 12, 8), unit="h"),
        table("Sessions and badge decisions", 'SELECT "device", "kind", "sid", "ok", "reason" '
              'FROM "event" WHERE ("kind" = \'session_start\' OR "kind" = \'session_end\' OR '
              f'"kind" = \'badge\') AND {pick} AND $timeFilter ORDER BY time DESC LIMIT 200',
              (0, 22, 24, 9)),
    ], variables=[device_variable("machine", "Machine")])


def energy() -> Json:
    return dashboard("wm-energy", "Workshop: energy", [
        timeseries("Building power", [
            per_device('mean("w")', METER),
        ], (0, 0, 24, 8), unit="watt"),
        bars("Building energy per day", [
            per_day('spread("wh") / 1000', METER),
        ], (0, 8, 12, 8), unit="kwatth"),
        bars("Energy per machine per day", [
            per_day('spread("wh") / 1000', MACHINE),
        ], (12, 8, 12, 8), unit="kwatth"),
        timeseries("Base load (lowest 15-min mean of each day)", [
            target('SELECT min("w") FROM (SELECT mean("w") AS "w" FROM "telemetry" WHERE '
                   f'{METER} AND $timeFilter GROUP BY time(15m), "device") WHERE $timeFilter '
                   'GROUP BY time(1d), "device"', "A", "$tag_device"),
        ], (0, 16, 24, 8), unit="watt",
            description="What the building draws when nobody works; the alert service "
                        "compares each night with the nights before."),
    ], time_from="now-14d")


def devices() -> Json:
    pick = '"device" =~ /^$device$/'
    return dashboard("wm-devices", "Workshop: device health", [
        table("Last seen", f'SELECT last("seq") AS "seq" FROM "telemetry" WHERE {pick} AND '
              '$timeFilter GROUP BY "device"', (0, 0, 12, 8),
              description="Time of each device's newest telemetry."),
        state_timeline("Online", [
            per_device('last("online")', pick, fill="previous", measurement="status"),
        ], (12, 0, 12, 8), [{"type": "value", "options": {
            "0": {"text": "offline", "color": "red", "index": 0},
            "1": {"text": "online", "color": "green", "index": 1}}}]),
        timeseries("Free heap", [
            per_device('min("heap")', pick, measurement="status"),
        ], (0, 8, 12, 8), unit="bytes"),
        timeseries("Outbox depth", [
            per_device('max("outbox")', pick, measurement="status"),
        ], (12, 8, 12, 8), description="Messages queued on the node's flash, not yet sent."),
        timeseries("Reconnects", [
            per_device('max("reconnects")', pick, measurement="status"),
        ], (0, 16, 12, 8)),
        timeseries("Wi-Fi signal", [
            per_device('mean("rssi")', pick, measurement="status"),
        ], (12, 16, 12, 8), unit="dBm"),
    ], variables=[device_variable("device", "Device")])


DASHBOARDS = {
    "overview": overview, "heating": heating, "machines": machines, "energy": energy,
    "devices": devices,
}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for name in DASHBOARDS:
        (JSON_DIR / f"{name}.json").write_text(render(name))


if __name__ == "__main__":
    main()
