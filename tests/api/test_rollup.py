"""Rollups in a real InfluxDB: same field names and types as the raw series,
counters exact per 15-minute slot, events copied whole, idempotent, late data
caught, the raw policy bounded only after the backfill; and the split and the
sessions read the same from the rollup once the raw points are gone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.services import charts, counter_cache, rollup
from api.services.influx import InfluxReader
from api.services.sessions import read_sessions
from bench.synthetic import Heating, Machine, Meter, ms
from devservers import InfluxDB
from tests.api.conftest import Api
from tests.api.test_influx_sessions import populate

START, END = ms("2026-11-02T00:00"), ms("2026-11-04T00:00")


@pytest.fixture
def reader(influxdb: InfluxDB) -> Iterator[InfluxReader]:
    found = InfluxReader(influxdb.url, influxdb.database, influxdb.user, influxdb.password)
    yield found
    found.close()


def _dt(moment_ms: int) -> datetime:
    return datetime.fromtimestamp(moment_ms / 1000, UTC)


def _building(influxdb: InfluxDB) -> int:
    day = 86_400_000
    laser = Machine("laser1", sessions=[(START + 10 * 3_600_000, START + 12 * 3_600_000),
                                        (START + day + 9 * 3_600_000, START + day + 9 * 3_600_000
                                         + 45 * 60_000)])
    return influxdb.write([*laser.series(START, END, 60), *Heating(zones=2).series(START, END, 60),
                           *Meter("meter1").series(START, END, 60)])


def _values(reader: InfluxReader, query: str) -> dict[str, list[list[Any]]]:
    return {s.tags.get("device", ""): s.values for s in reader.query(query)}


def test_rollups_keep_names_types_counters_and_events(
    influxdb: InfluxDB, reader: InfluxReader
) -> None:
    _building(influxdb)
    rollup.ensure(reader, 0)
    written = rollup.roll(reader, _dt(START), _dt(END))
    assert written > 0
    raw_fields = rollup.field_keys(reader, "telemetry")
    for policy in ("rollup_15m", "rollup_1h"):
        rolled = {str(r[0]): str(r[1]) for s in reader.query(
            f'SHOW FIELD KEYS FROM "{policy}"."telemetry"') for r in s.values}
        assert rolled == raw_fields  # the same names, counters still integers
    # Counters: the last reading per 15-minute slot, exactly what the split reads.
    per_slot = ('SELECT last("wh") FROM {} WHERE time >= \'2026-11-02T00:00:00Z\' '
                'AND time < \'2026-11-04T00:00:00Z\' GROUP BY time(15m), "device" fill(none)')
    raw = _values(reader, per_slot.format('"autogen"."telemetry"'))
    assert raw and raw == _values(reader, per_slot.format('"rollup_15m"."telemetry"'))
    # Readings: the mean per bucket (every bucket holds the same count, so the
    # hourly mean of the 15-minute means is the raw hourly mean).
    hourly = ('SELECT mean("t_flow") FROM {} WHERE time >= \'2026-11-02T00:00:00Z\' AND '
              'time < \'2026-11-04T00:00:00Z\' GROUP BY time(1h), "device" fill(none)')
    raw_means = _values(reader, hourly.format('"autogen"."telemetry"'))["boiler1"]
    for policy in ("rollup_15m", "rollup_1h"):
        rolled_means = _values(reader, hourly.format(f'"{policy}"."telemetry"'))["boiler1"]
        assert [t for t, _ in rolled_means] == [t for t, _ in raw_means]
        assert all(abs(a[1] - b[1]) < 1e-9 for a, b in zip(raw_means, rolled_means, strict=True))
    events = 'SELECT * FROM {} GROUP BY *'
    assert reader.query(events.format('"autogen"."event"')) == reader.query(
        events.format('"rollup_15m"."event"'))
    assert influxdb.count("event", "sid") == 4
    # Idempotent: a second pass writes the same points again, not more.
    count = 'SELECT count("wh") FROM "rollup_15m"."telemetry"'
    before = reader.query(count)[0].values
    rollup.roll(reader, _dt(START), _dt(END))
    assert reader.query(count)[0].values == before


def test_late_data_is_rolled_up_by_the_next_pass(influxdb: InfluxDB, reader: InfluxReader) -> None:
    _building(influxdb)
    rollup.ensure(reader, 0)
    now = _dt(END)
    rollup.run(reader, now)
    # A node replays its outbox: a reading a day old arrives now.
    late = ms("2026-11-03T01:07")
    influxdb.write([f"telemetry,site=mf1,device=meter1 w=99999.0 {late}"])
    query = ('SELECT max("w") FROM "rollup_1h"."telemetry" WHERE "device" = \'meter1\' AND '
             "time >= '2026-11-03T01:00:00Z' AND time < '2026-11-03T02:00:00Z'")
    assert reader.query(query)[0].values[0][1] < 99999.0 / 60
    rollup.run(reader, now)
    assert reader.query(query)[0].values[0][1] > 99999.0 / 60


def _durations(reader: InfluxReader) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for s in reader.query("SHOW RETENTION POLICIES")
            for r in s.values}


def test_bootstrap_backfills_then_bounds_raw_once(influxdb: InfluxDB, reader: InfluxReader) -> None:
    _building(influxdb)
    assert _durations(reader) == {"autogen": "0s"}
    written = rollup.bootstrap(reader, 30, now=_dt(END))
    assert written > 0
    assert _durations(reader) == {"autogen": "720h0m0s", "rollup_15m": "0s", "rollup_1h": "0s"}
    first = reader.query('SELECT count("wh") FROM "rollup_15m"."telemetry"')[0].values
    assert first[0][1] == 2 * 2 * 96  # laser1 and meter1, two days of 15-minute slots
    assert rollup.bootstrap(reader, 30, now=_dt(END)) == 0  # done: nothing again


def test_split_and_sessions_read_the_rollup_when_raw_is_gone(
    influxdb: InfluxDB, make_api: Callable[..., Api], reader: InfluxReader
) -> None:
    api, ids, _ = populate(influxdb, make_api)
    tariff = api.ok("treasurer", "POST", "/tariffs",
                    json={"name": "flat", "bands": [{"name": "all"}]})["id"]
    bill = api.ok("treasurer", "POST", "/bills", json={
        "tariff_id": tariff, "period_start": "2026-03-01", "period_end": "2026-03-02",
        "bands": [{"name": "all", "kwh": "500", "cost": "100.00"}]})["id"]
    before = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    window = (datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC))
    sessions = read_sessions(reader, "ws1", *window)
    counters = counter_cache.query_counters(reader, "ws1", ["node1", "node2"], *window)
    rollup.ensure(reader, 0)
    rollup.roll(reader, *window)
    # Retention drops the raw points: what it does (drop the policy's old shards), by hand.
    for series in reader.query("SHOW SHARDS"):
        for row in series.rows():
            if row["database"] == influxdb.database and row["retention_policy"] == "autogen":
                reader.query(f"DROP SHARD {row['id']}")
    assert influxdb.count("telemetry", "wh") == 0
    assert read_sessions(reader, "ws1", *window) == sessions
    assert counter_cache.query_counters(reader, "ws1", ["node1", "node2"], *window) == counters
    after = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    assert after["members"] == before["members"] and after["total"] == before["total"]
    assert ids  # the members the split shares among


def test_charts_read_raw_for_a_day_and_rollups_beyond(
    influxdb: InfluxDB, reader: InfluxReader
) -> None:
    _building(influxdb)
    rollup.ensure(reader, 0)
    rollup.roll(reader, _dt(START), _dt(END))
    now = _dt(END - 60_000)
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
