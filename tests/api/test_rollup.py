"""The api on rollups: the split and the sessions read the same from the
15-minute rollup once the raw points are gone; charts read raw readings for a
day and the rollups beyond."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from api.services import charts, counter_cache
from api.services.sessions import read_sessions
from devservers import InfluxDB
from tests.api.conftest import Api
from tests.api.test_influx_sessions import _flat_bill, populate
from tests.timeseries.test_rollup import END, dt, rolled_building
from timeseries import InfluxClient, rollup


@pytest.fixture
def reader(influxdb: InfluxDB) -> Iterator[InfluxClient]:
    found = influxdb.client()
    yield found
    found.close()


def test_split_and_sessions_read_the_rollup_when_raw_is_gone(
    influxdb: InfluxDB, make_api: Callable[..., Api], reader: InfluxClient
) -> None:
    api, ids, _ = populate(influxdb, make_api)
    bill = _flat_bill(api)
    before = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    window = (datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))
    sessions = read_sessions(reader, "ws1", *window)
    counters = counter_cache.query_counters(reader, "ws1", ["node1", "node2"], *window)
    rollup.ensure(reader, 0)
    rollup.roll(reader, *window)
    # Retention drops the raw points: what it does (drop the policy's old shards), by hand.
    for series in reader.query("SHOW SHARDS"):
        for row in series.rows:
            if row["database"] == influxdb.database and row["retention_policy"] == "autogen":
                reader.execute(f"DROP SHARD {row['id']}")
    assert influxdb.count("telemetry", "wh") == 0
    assert read_sessions(reader, "ws1", *window) == sessions
    assert counter_cache.query_counters(reader, "ws1", ["node1", "node2"], *window) == counters
    after = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    assert after["members"] == before["members"] and after["total"] == before["total"]
    assert ids  # the members the split shares among


def test_charts_read_raw_for_a_day_and_rollups_beyond(
    influxdb: InfluxDB, reader: InfluxClient
) -> None:
    rolled_building(influxdb, reader)
    now = dt(END - 60_000)
    day = charts.read_chart(reader, "heating", "mf1", timedelta(hours=24), now)
    assert day["source"] == "autogen" and len(day["times"]) == 288
    assert {s["label"] for s in day["series"]} == {
        "boiler1 flow", "boiler1 return", "boiler1 t_zone1", "boiler1 t_zone2"}
    week = charts.read_chart(reader, "heating", "mf1", timedelta(days=7), now)
    assert week["source"] == "rollup_15m" and len(week["times"]) == 168
    filled = [v for s in week["series"] for v in s["values"] if v is not None]
    assert len(filled) == 4 * 48  # two days of data in the week, four series
    year = charts.read_chart(reader, "power", "mf1", timedelta(days=365), now)
    assert year["source"] == "rollup_1h" and len(year["times"]) == 365
    assert [v for v in year["series"][0]["values"] if v is not None][:1] != []
