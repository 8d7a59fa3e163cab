"""Late data: points that reach InfluxDB after the counter cache copied their
slots (a node replaying its outbox days later, the gateway draining its spool)
are in the next split, with no `refresh-counters --rebuild`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.allocation import allocate, parse_scenario, split_to_dict
from api.models import CounterLateWrite, CounterSlot, Device, ElectricityBill, Site
from api.services import counter_cache
from api.services.split_input import build_split_input
from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from protocol import wire
from tests.api.conftest import SITE, Api
from tests.api.influx_data import Run, ms, telemetry_lines, telemetry_message, telemetry_samples
from tests.api.test_influx_sessions import CNC_RUNS, _energy_kwh, _flat_bill, populate
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import publish_all, wait_until
from timeseries import arrivals

# populate()'s telemetry range, and the moment node2 lost the broker: in the
# middle of B's cnc run, which its outbox then held back for nine months.
START, END = "2026-02-28T23:00:00", "2026-03-03T00:30:00"
OFFLINE_FROM = "2026-03-02T14:10:00"


def _energy(result: dict[str, Any]) -> dict[str, Fraction]:
    return {
        code: sum(
            (Fraction(x["quantity"]) for x in st["lines"] if x["pool"] == "energy"), Fraction(0)
        )
        for code, st in result["members"].items()
    }


def _split_from_influxdb(api: Api, influxdb: InfluxDB, bill_id: int) -> dict[str, Any]:
    """The split as InfluxDB holds the data now: the cache forgotten (not committed)."""
    with api.session() as session, influxdb.client() as reader:
        site = session.scalars(select(Site)).one()
        bill = session.get(ElectricityBill, bill_id)
        assert bill is not None
        devices = counter_cache.counted_devices(session, site.id)
        counter_cache.rebuild(session, [d.id for d in devices])
        built = build_split_input(session, reader, site, bill)
        session.rollback()
    return split_to_dict(allocate(parse_scenario(built.scenario)))


def test_an_outbox_replayed_through_the_gateway_is_in_the_next_split(
    tmp_path: Path, influxdb: InfluxDB, mosquitto: Mosquitto, make_api: Callable[..., Api]
) -> None:
    api, _, _ = populate(influxdb, make_api)
    samples = telemetry_samples(START, END, CNC_RUNS)  # node2's points, all of them
    held_back = [s for s in samples if s.ms > ms(OFFLINE_FROM)]
    influxdb.execute(
        f"DELETE FROM telemetry WHERE device = 'node2' AND time > {ms(OFFLINE_FROM)}ms"
    )
    assert influxdb.count("telemetry", "wh", "device = 'node2'") == len(samples) - len(held_back)
    bill = _flat_bill(api, fixed_cost="10.00")
    stale = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    # The cache has settled node2's days: B's run was cut short at 14:10.
    assert _energy(stale)["B"] < _energy_kwh(CNC_RUNS)
    with api.session() as session:
        assert session.scalars(select(CounterSlot.slot_end_ms)).all()
        assert session.scalars(select(CounterLateWrite)).all() == []

    gateway = GatewayProcess(
        tmp_path / "gateway", mosquitto, influxdb,
        mqtt_username=GATEWAY_USER, mqtt_password=GATEWAY_PASSWORD, batch_interval_s=0.05,
    )  # fmt: skip
    gateway.start()
    try:
        topic = wire.topic(SITE, "node2", "telemetry")
        sent = publish_all(
            mosquitto, ((topic, wire.encode("telemetry", telemetry_message(s))) for s in held_back)
        )
        assert sent == len(held_back)
        marker_days = {arrivals.day_start(s.ms) for s in held_back}
        wait_until(
            lambda: influxdb.count(arrivals.MEASUREMENT, arrivals.FIELD) == len(marker_days),
            30,
            "the gateway's late-write markers",
        )
    finally:
        gateway.close()
    assert influxdb.count("telemetry", "wh", "device = 'node2'") == len(samples)

    fresh = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    assert _energy(fresh)["B"] == _energy_kwh(CNC_RUNS)
    direct = _split_from_influxdb(api, influxdb, bill)
    assert fresh["members"] == direct["members"] and fresh["vacancy"] == direct["vacancy"]
    assert fresh["total"] == direct["total"] == "110.00"
    with api.session() as session:
        node2 = session.scalars(select(Device).where(Device.name == "node2")).one()
        seen = session.execute(select(CounterLateWrite.device_id, CounterLateWrite.day_ms)).all()
        assert sorted(tuple(row) for row in seen) == [(node2.id, d) for d in sorted(marker_days)]
        # A marker seen is not acted on again: the next refresh copies no day twice.
        site = session.scalars(select(Site)).one()
        with influxdb.client() as reader:
            _, again = counter_cache.refresh_site(session, reader, site)
        assert again.late_days == 0


def test_late_points_at_day_edges_leave_the_cache_as_a_fresh_copy(
    influxdb: InfluxDB, make_api: Callable[..., Api]
) -> None:
    """Late points across a midnight after a flat evening, a whole day, and one
    minute that changes the last reading of its slot: after a refresh the cache
    holds exactly what a fresh copy of InfluxDB would."""
    api = make_api(influx=influxdb.client())
    api.ok("admin", "POST", "/devices", json={"name": "node1", "role": "machine"})
    runs = [
        Run("2026-03-01T09:00:00", "2026-03-01T11:00:00", 2000),
        Run("2026-03-01T23:55:00", "2026-03-02T00:40:00", 3000),  # across midnight
        Run("2026-03-03T10:00:00", "2026-03-03T12:00:00", 1500),
        Run("2026-03-04T08:00:00", "2026-03-04T08:20:00", 4000),
    ]
    lines = telemetry_lines(SITE, "node1", "2026-03-01T00:00:00", "2026-03-05T00:00:00", runs)

    def late(at: int) -> bool:
        return (
            ms("2026-03-01T23:50:00") <= at <= ms("2026-03-02T00:30:00")
            or ms("2026-03-03T00:00:00") <= at < ms("2026-03-04T00:00:00")
            or at == ms("2026-03-04T08:14:00")
        )

    on_time = [x for x in lines if not late(int(x.rsplit(" ", 1)[1]))]
    held_back = [x for x in lines if late(int(x.rsplit(" ", 1)[1]))]
    assert len(held_back) == 41 + 1440 + 1
    influxdb.write(on_time)
    now = datetime.now(UTC)
    with api.session() as session, influxdb.client() as reader:
        site = session.scalars(select(Site)).one()
        devices = counter_cache.counted_devices(session, site.id)
        assert counter_cache.refresh(session, reader, site.name, devices, now).late_days == 0
        session.commit()
        # What the gateway does: the points, then their markers.
        influxdb.write(held_back)
        influxdb.write(arrivals.markers(held_back, int(now.timestamp() * 1000)))
        refreshed = counter_cache.refresh(session, reader, site.name, devices, now)
        session.commit()
        assert refreshed.late_days == 4  # 1 to 4 March
        cached = session.execute(
            select(CounterSlot.slot_end_ms, CounterSlot.wh).order_by(CounterSlot.slot_end_ms)
        ).all()
        fresh = counter_cache.query_counters(
            reader, site.name, ["node1"], datetime(2026, 2, 1, tzinfo=UTC),
            datetime(2026, 3, 6, tzinfo=UTC),
        )["node1"]  # fmt: skip
    assert [tuple(row) for row in cached] == counter_cache.compact_days(fresh)
