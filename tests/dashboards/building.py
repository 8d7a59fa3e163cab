"""Two days of a small building in the data-contract shape, for the panel
queries: a heating node, a laser (interlock, sessions, badge events), a
compressor without relay whose last will arrives at the end, a meter,
periodic health status of every node, and alert states as the alert service
writes them (into its own database)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from alerts.models import Alert
from alerts.timeline import alert_lines
from bench.synthetic import (
    DAY_MS,
    HOUR_MS,
    SITE,
    Heating,
    Machine,
    Meter,
    event,
    heartbeat,
    ms,
    status,
)
from devservers import InfluxDB
from timeseries import rollup

START = ms("2026-11-02T00:00")
END = START + 2 * DAY_MS
DEVICES = ("boiler1", "laser1", "compressor", "meter1")
ROLES = {"boiler1": "heating", "laser1": "machine", "compressor": "machine", "meter1": "meter"}


def health(device: str) -> Iterator[str]:
    return heartbeat(device, ROLES[device], START, END, every_s=600)


def fill(influx: InfluxDB) -> dict[str, int]:
    """Writes everything; returns the figures the overview should show at END."""
    laser_sessions = [(START + d * DAY_MS + h * HOUR_MS, START + d * DAY_MS + (h + 2) * HOUR_MS)
                      for d in range(2) for h in (9, 14)]
    laser_sessions.append((END - HOUR_MS, END + HOUR_MS))  # running at the end
    influx.write(Heating().series(START, END, step_s=60))
    influx.write(Machine("laser1", sessions=laser_sessions).series(START, END, 60))
    influx.write(Machine("compressor", has_relay=False,
                          sessions=[(START + 10 * HOUR_MS, START + 11 * HOUR_MS)],
                          seed=5).series(START, END, 60))
    influx.write(Meter().series(START, END, step_s=60))
    for device in DEVICES:
        influx.write(health(device))
    influx.write([status("compressor", END - 60_000, "", online=False)])
    influx.write([
        event("laser1", START + 9 * HOUR_MS - 5000, 900, "badge", 0).replace(
            "sid=0i", "ok=true"),
        event("laser1", START + 20 * HOUR_MS, 901, "badge", 0).replace("sid=0i", "ok=false"),
    ])
    open_alert = Alert(id=1, dedupe_key="heating:mf1:boiler1", kind="heating", site=SITE,
                       device="boiler1", severity="critical", state="notified",
                       summary="heating failure at mf1/boiler1: flow fell")
    closed = Alert(id=2, dedupe_key="machine_left_on:mf1:compressor", kind="machine_left_on",
                   site=SITE, device="compressor", severity="warning", state="resolved",
                   summary="mf1/compressor draws 1500 W with no session for 31 min")
    with influx.client(30, influx.alerts_database) as alerts_db:  # where the alerts write them
        alerts_db.write_lines(alert_lines([open_alert], END - 2 * HOUR_MS)
                              + alert_lines([closed], END - 3 * HOUR_MS)
                              + alert_lines([open_alert], END - 60_000))
    # The rollups the api keeps (and the map the dashboards' $rollup variable reads).
    with influx.client() as client:
        rollup.ensure(client, 0)
        rollup.roll(client, datetime.fromtimestamp(START / 1000, UTC),
                    datetime.fromtimestamp(END / 1000, UTC))
    return {"devices_online": 3, "open_alerts": 1, "machines_running": 1}
