"""False-alarm test on the real simulator: a healthy week of a small building
(a laser and a compressor behind interlocks, a kiln watched without one, the
heating, the utility meter), the firmware on virtual hardware through the real
broker and gateway, evaluated every ten minutes of the week: no alert at all.

The week runs on the simulator's fast clock (it jumps whenever no node waits
for its broker), a few minutes of real time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import closing
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.models import Alert
from alerts.runner import AlertService
from bench.simulator import NODES
from devservers import InfluxDB, Mosquitto
from tests.alerts.simulated import simulate, source
from tests.alerts.stepping import MINUTE, assert_silent, moments

DAY_S = 86_400
WEEK_S = 7 * DAY_S


def _week_ago_midnight() -> str:
    day = (int(time.time()) // DAY_S - 8) * DAY_S
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(day))


@pytest.mark.timeout(1200)
async def test_a_healthy_simulated_week_raises_no_alert(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB,
    sessions: sessionmaker[Session], make_service: Callable[..., AlertService],
) -> None:
    began = time.monotonic()
    fleet = await asyncio.to_thread(
        simulate, tmp_path, mosquitto, influxdb, NODES, WEEK_S, start=_week_ago_midnight())
    simulated_s = time.monotonic() - began
    start, end = fleet.start_unix_ms, fleet.start_unix_ms + WEEK_S * 1000

    # The week was eventful: members used every machine, the boiler burned.
    with closing(source(influxdb)) as src:
        starts = {s.tags["device"]: int(s.rows[0]["count"]) for s in src.query(
            "SELECT count(\"sid\") FROM event WHERE kind = 'session_start' GROUP BY device")}
        burn = src.query("SELECT last(\"burn_s\") FROM telemetry WHERE device = 'node3'")
        gaps = {}
        for series in src.query('SELECT "seq" FROM telemetry GROUP BY device'):
            times = [int(r["time"]) for r in series.rows]
            gaps[series.tags["device"]] = max(b - a for a, b in pairwise(times))
    assert starts.get("node1", 0) >= 20 and starts.get("node2", 0) >= 10, starts
    assert starts.get("node5", 0) >= 5, starts
    assert int(burn[0].rows[0]["last"]) > DAY_S // 10
    # No node was ever silent for two reporting intervals.
    assert set(gaps) == {spec["device"] for spec in NODES}
    assert max(gaps.values()) <= 2 * 60_000, gaps

    evaluations, evaluated_s = await assert_silent(
        make_service(), moments(start + 30 * MINUTE, end, coarse_ms=10 * MINUTE))
    assert evaluations > 1000
    with sessions() as session:
        assert list(session.scalars(select(Alert))) == []
    print(f"healthy simulated week: {sum(starts.values())} sessions, simulated in "
          f"{simulated_s:.0f} s, {evaluations} evaluations in {evaluated_s:.0f} s, no alert")
