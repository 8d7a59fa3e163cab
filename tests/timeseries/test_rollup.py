"""Rollups in a real InfluxDB: the same field names and types as the raw
series, counters exact per 15-minute slot, events copied whole, idempotent,
late data caught by the next pass, the raw policy bounded only after the
backfill."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bench.synthetic import Heating, Machine, Meter, ms
from devservers import InfluxDB
from timeseries import InfluxClient, InfluxPartialWrite, arrivals, rollup

START, END = ms("2026-11-02T00:00"), ms("2026-11-04T00:00")


@pytest.fixture
def reader(influxdb: InfluxDB) -> Iterator[InfluxClient]:
    found = influxdb.client()
    yield found
    found.close()


def dt(moment_ms: int) -> datetime:
    return datetime.fromtimestamp(moment_ms / 1000, UTC)


def small_building(influxdb: InfluxDB) -> int:
    """Two days of a laser with two sessions, a boiler with two zones, a meter."""
    day = 86_400_000
    laser = Machine("laser1", sessions=[(START + 10 * 3_600_000, START + 12 * 3_600_000),
                                        (START + day + 9 * 3_600_000, START + day + 9 * 3_600_000
                                         + 45 * 60_000)])
    return influxdb.write([*laser.series(START, END, 60), *Heating(zones=2).series(START, END, 60),
                           *Meter("meter1").series(START, END, 60)])


def rolled_building(influxdb: InfluxDB, reader: InfluxClient) -> None:
    """small_building, rolled up over its two days."""
    small_building(influxdb)
    rollup.ensure(reader, 0)
    rollup.roll(reader, dt(START), dt(END))


def _values(reader: InfluxClient, query: str) -> dict[str, list[list[Any]]]:
    return {s.tags.get("device", ""): s.values for s in reader.query(query)}


def test_rollups_keep_names_types_counters_and_events(
    influxdb: InfluxDB, reader: InfluxClient
) -> None:
    small_building(influxdb)
    rollup.ensure(reader, 0)
    written = rollup.roll(reader, dt(START), dt(END))
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
    rollup.roll(reader, dt(START), dt(END))
    assert reader.query(count)[0].values == before


def test_late_data_is_rolled_up_by_the_next_pass(influxdb: InfluxDB, reader: InfluxClient) -> None:
    small_building(influxdb)
    rollup.ensure(reader, 0)
    now = dt(END)
    rollup.run(reader, now)
    # A node replays its outbox: a reading a day old arrives now.
    late = ms("2026-11-03T01:07")
    influxdb.write([f"telemetry,site=mf1,device=meter1 w=99999.0 {late}"])
    query = ('SELECT max("w") FROM "rollup_1h"."telemetry" WHERE "device" = \'meter1\' AND '
             "time >= '2026-11-03T01:00:00Z' AND time < '2026-11-03T02:00:00Z'")
    assert reader.query(query)[0].values[0][1] < 99999.0 / 60
    rollup.run(reader, now)
    assert reader.query(query)[0].values[0][1] > 99999.0 / 60


def _durations(reader: InfluxClient) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for s in reader.query("SHOW RETENTION POLICIES")
            for r in s.values}


def test_bootstrap_backfills_then_bounds_raw_once(influxdb: InfluxDB, reader: InfluxClient) -> None:
    small_building(influxdb)
    assert _durations(reader) == {"autogen": "0s"}
    written = rollup.bootstrap(reader, 30, now=dt(END))
    assert written > 0
    assert _durations(reader) == {"autogen": "720h0m0s", "rollup_15m": "0s", "rollup_1h": "0s"}
    first = reader.query('SELECT count("wh") FROM "rollup_15m"."telemetry"')[0].values
    assert first[0][1] == 2 * 2 * 96  # laser1 and meter1, two days of 15-minute slots
    assert rollup.bootstrap(reader, 30, now=dt(END)) == 0  # done: nothing again


@pytest.mark.parametrize(("days", "duration", "shard"), [
    (1, "24h0m0s", "1h0m0s"), (90, "2160h0m0s", "24h0m0s"), (400, "9600h0m0s", "168h0m0s"),
    (0, "0s", "168h0m0s")])
def test_raw_policy_takes_any_duration(
    reader: InfluxClient, days: int, duration: str, shard: str
) -> None:
    rollup.bound_raw(reader, days)  # InfluxDB wants a shard group shorter than the policy
    [row] = [r for s in reader.query("SHOW RETENTION POLICIES") for r in s.values]
    assert row[:3] == ["autogen", duration, shard]


def test_a_point_older_than_the_raw_policy_is_refused(reader: InfluxClient) -> None:
    rollup.bound_raw(reader, 1)
    now = int(datetime.now(UTC).timestamp() * 1000)
    with pytest.raises(InfluxPartialWrite, match="beyond retention policy dropped=1"):
        reader.write_lines([f"telemetry,site=a,device=b w=1.0 {now - 3 * 86_400_000}",
                            f"telemetry,site=a,device=b w=2.0 {now}"])
    assert reader.query('SELECT count("w") FROM "telemetry"')[0].values[0][1] == 1


def test_a_late_day_older_than_the_lookback_is_rolled_up_by_its_marker(
    influxdb: InfluxDB, reader: InfluxClient
) -> None:
    rolled_building(influxdb, reader)
    now = dt(END + 5 * 86_400_000)  # the first day is long out of the 2-day lookback
    late = [f"telemetry,site=mf1,device=meter1 w=99999.0 {START + 3_600_000 + 7 * 60_000}"]
    written_ms = int(now.timestamp() * 1000)
    # What the gateway does with a late batch: the points, then the day's marker.
    influxdb.write([*late, *arrivals.markers(late, written_ms)])
    query = ('SELECT max("w") FROM "rollup_1h"."telemetry" WHERE "device" = \'meter1\' AND '
             "time >= '2026-11-02T01:00:00Z' AND time < '2026-11-02T02:00:00Z'")
    assert reader.query(query)[0].values[0][1] < 99999.0 / 60
    rollup.run(reader, now)  # no marker asked for: the old day stays as it was
    assert reader.query(query)[0].values[0][1] < 99999.0 / 60
    assert rollup.late_days(reader, written_ms) == [START]
    rollup.run(reader, now, late_since_ms=written_ms - 60_000)
    assert reader.query(query)[0].values[0][1] > 99999.0 / 60
    assert rollup.late_days(reader, written_ms + 1) == []  # a marker is seen once
