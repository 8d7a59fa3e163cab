"""Late points leave a late-write marker per device and day once they are
stored (timeseries.arrivals), whether written at once or drained from the
spool after an InfluxDB outage; points on time leave none."""

from __future__ import annotations

import time

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from protocol import wire
from tests.gateway.conftest import Message, publish_all, wait_until
from timeseries import arrivals

DAY = arrivals.DAY_MS


def _stream(device: str, first_ms: int, count: int) -> list[Message]:
    topic = wire.topic("lab", device, "telemetry")
    return [
        (topic, wire.encode("telemetry", wire.telemetry(n, first_ms + n * 60_000, {"wh": n}, {})))
        for n in range(count)
    ]


def _markers(influxdb: InfluxDB) -> dict[tuple[str, int], int]:
    """(device, day) -> written_ms."""
    with influxdb.client() as reader:
        series = reader.query(
            f'SELECT "{arrivals.FIELD}" FROM "{arrivals.MEASUREMENT}" GROUP BY "device"'
        )
    return {(s.tags["device"], int(t)): int(v) for s in series for t, v in s.values}


def test_late_points_are_marked_after_they_are_stored_and_after_a_spool_drain(
    mosquitto: Mosquitto, influxdb: InfluxDB, gateway: GatewayProcess
) -> None:
    now = int(time.time() * 1000)
    three_days_ago = arrivals.day_start(now - 3 * DAY) + 3_600_000
    ten_days_ago = arrivals.day_start(now - 10 * DAY) + 23 * 3_600_000
    before = int(time.time() * 1000)
    sent = publish_all(mosquitto, [
        *_stream("node1", now - 30 * 60_000, 30),  # on time: no marker
        *_stream("node2", three_days_ago, 30),
        *_stream("node3", ten_days_ago, 90),  # runs over midnight: two days
    ])  # fmt: skip
    wait_until(lambda: influxdb.count("telemetry", "wh") == sent == 150, 30, "150 points")
    wait_until(lambda: len(_markers(influxdb)) == 3, 30, "three markers")
    marked = _markers(influxdb)
    assert set(marked) == {
        ("node2", arrivals.day_start(three_days_ago)),
        ("node3", arrivals.day_start(ten_days_ago)),
        ("node3", arrivals.day_start(ten_days_ago) + DAY),
    }
    assert all(before <= at <= int(time.time() * 1000) for at in marked.values())

    # InfluxDB down: the late points wait in the spool; their marker comes with the drain.
    influxdb.kill()
    sent += publish_all(mosquitto, _stream("node2", three_days_ago + 30 * 60_000, 30))
    wait_until(lambda: gateway.metric("gateway_spooled_points_total") == 30, 30, "30 spooled")
    restarted = int(time.time() * 1000)
    influxdb.start()
    wait_until(lambda: gateway.metric("gateway_spool_batches") == 0, 30, "the spool drained")
    assert influxdb.count("telemetry", "wh") == sent == 180
    wait_until(
        lambda: _markers(influxdb)[("node2", arrivals.day_start(three_days_ago))] >= restarted,
        30,
        "node2's marker written again after the drain",
    )
    after = _markers(influxdb)
    assert len(after) == 3
    assert after[("node3", arrivals.day_start(ten_days_ago))] == marked[
        ("node3", arrivals.day_start(ten_days_ago))
    ]
