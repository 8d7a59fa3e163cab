"""Sessions and energy read from a real InfluxDB holding points in the data-contract shape."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest

from devservers import InfluxDB
from protocol.badge import badge_hash, parse_key, uid_from_hex
from tests.api.conftest import BADGE_KEY, SITE, Api
from tests.api.influx_data import Run, ms, session_lines, telemetry_lines, telemetry_samples

UIDS = {"A": "04:0A:0A:0A", "B": "04:0B:0B:0B", "X": "04:FF:FF:FF"}
# Laser: A's session and a 5-minute run-on inside its 10-minute grace window.
LASER_RUNS = [
    Run("2026-03-01T10:00:00", "2026-03-01T11:00:00", 2000),
    Run("2026-03-01T11:00:00", "2026-03-01T11:05:00", 1200),
]
CNC_RUNS = [Run("2026-03-02T14:00:00", "2026-03-02T14:30:00", 3000)]


def _hash(code: str) -> str:
    return badge_hash(parse_key(BADGE_KEY), uid_from_hex(UIDS[code]))


def _energy_kwh(runs: list[Run]) -> Fraction:
    from tests.api.influx_data import ms

    return sum(
        (Fraction(r.watts * (ms(r.end) - ms(r.start)), 3_600_000_000) for r in runs), Fraction(0)
    )

def _flat_bill(api: Api, kwh: str = "500", cost: str = "100.00", **extra: str) -> int:
    """A one-band tariff and a bill on it for 1 March 2026; -> the bill's id."""
    tariff = api.ok(
        "treasurer", "POST", "/tariffs", json={"name": "flat", "bands": [{"name": "all"}]}
    )["id"]
    return int(api.ok("treasurer", "POST", "/bills", json={
        "tariff_id": tariff, "period_start": "2026-03-01", "period_end": "2026-03-02",
        "bands": [{"name": "all", "kwh": kwh, "cost": cost}], **extra,
    })["id"])  # fmt: skip



@pytest.fixture
def site_with_data(
    influxdb: InfluxDB, make_api: Callable[..., Api]
) -> tuple[Api, dict[str, Any], int]:
    return populate(influxdb, make_api)


def populate(
    influxdb: InfluxDB, make_api: Callable[..., Api], **settings: Any
) -> tuple[Api, dict[str, Any], int]:
    reader = influxdb.client()
    api = make_api(influx=reader, **settings)
    ids: dict[str, Any] = {}
    for code in ("A", "B"):
        ids[code] = api.ok(
            "admin", "POST", "/members", json={"code": code, "name": f"Member {code}"}
        )["id"]
        api.ok("admin", "POST", "/badges", json={"member_id": ids[code], "uid": UIDS[code]})
        unit = api.ok("treasurer", "POST", "/units", json={"code": f"U{code}", "area_m2": "50"})[
            "id"
        ]
        api.ok(
            "treasurer",
            "POST",
            "/leases",
            json={"unit_id": unit, "member_id": ids[code], "start": "2026-01-01"},
        )
    for name, code, watts, grace in (("node1", "laser", 3000, 10), ("node2", "cnc", 4000, 0)):
        device = api.ok("admin", "POST", "/devices", json={"name": name, "role": "machine"})["id"]
        api.ok(
            "admin",
            "POST",
            "/machines",
            json={
                "code": code,
                "rated_power_w": watts,
                "grace_minutes": grace,
                "device_id": device,
            },
        )
    day1, day2, start, end = (
        "2026-03-01T",
        "2026-03-02T",
        "2026-02-28T23:00:00",
        "2026-03-03T00:30:00",
    )
    a, b, x = _hash("A"), _hash("B"), _hash("X")
    written = influxdb.write([
        *telemetry_lines(SITE, "node1", start, end, LASER_RUNS),
        *telemetry_lines(SITE, "node2", start, end, CNC_RUNS),
        *session_lines(SITE, "node1", 7, a, day1 + "10:00:00", day1 + "11:00:00", 10, (0, 2000)),
        *session_lines(SITE, "node2", 3, b, day2 + "14:00:00", day2 + "14:30:00", 20),
        # A badge nobody holds: its session is machine overhead, not anyone's.
        *session_lines(SITE, "node2", 4, x, day2 + "18:00:00", day2 + "18:10:00", 30),
        # Still running at the end of the data: an open session.
        *session_lines(SITE, "node1", 8, a, day2 + "23:50:00", None, 40),
        # Another site's session is not ours.
        *session_lines("othersite", "node1", 1, b, day1 + "12:00:00", day1 + "13:00:00", 50),
    ])  # fmt: skip
    assert influxdb.count("telemetry", "wh") > 2 * 60 * 48
    return api, ids, written


def test_member_sees_own_sessions_only(site_with_data: tuple[Api, dict[str, Any], int]) -> None:
    api, ids, _ = site_with_data
    api.add_user("alice", "member", "A")
    api.add_user("bert", "member", "B")
    window = {"start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
    alice = api.ok("alice", "GET", "/sessions", params=window)
    assert [(s["machine"], s["minutes"], s["kwh"]) for s in alice] == [
        ("laser", 60.0, 2.0),  # from the counter snapshots on the start and end events
        ("laser", None, None),
    ]
    assert {s["member_id"] for s in alice} == {ids["A"]}
    bert = api.ok("bert", "GET", "/sessions", params=window)
    assert [(s["machine"], s["start"]) for s in bert] == [("cnc", "2026-03-02T14:00:00Z")]
    assert (
        api.call("alice", "GET", "/sessions", params={**window, "member_id": ids["B"]}).status_code
        == 403
    )
    everyone = api.ok("coordinator", "GET", "/sessions", params=window)
    assert len(everyone) == 4  # A twice, B once, the unknown badge once; not the other site's
    assert sum(1 for s in everyone if s["member_id"] is None) == 1


def test_split_from_influx_counters_and_sessions(
    site_with_data: tuple[Api, dict[str, Any], int],
) -> None:
    api, _, _ = site_with_data
    bill = _flat_bill(api, fixed_cost="10.00")
    run = api.ok("treasurer", "POST", f"/bills/{bill}/splits")
    result = run["result"]
    energy = {
        code: sum(
            (Fraction(x["quantity"]) for x in st["lines"] if x["pool"] == "energy"), Fraction(0)
        )
        for code, st in result["members"].items()
    }
    # A: the session plus the run-on within the grace window; B: the cnc session.
    # The unknown badge's cnc session drew nothing; A's open session drew nothing.
    assert energy["A"] == _energy_kwh(LASER_RUNS)
    assert energy["B"] == _energy_kwh(CNC_RUNS)
    assert result["total"] == "110.00"
    totals = sum(Fraction(st["total"]) for st in result["members"].values()) + Fraction(
        result["vacancy"]
    )
    assert totals == Fraction("110.00")
    assert any("no member holds" in note for note in run["notes"])
    stored = api.ok("treasurer", "GET", f"/splits/{run['id']}")
    assert stored["result"] == result
    assert stored["total"] == "110.00"


def test_influx_down_is_a_503_and_stores_nothing(
    influxdb: InfluxDB, site_with_data: tuple[Api, dict[str, Any], int]
) -> None:
    api, _, _ = site_with_data
    bill = _flat_bill(api)
    influxdb.stop()
    before = api.counts()
    response = api.call("treasurer", "POST", f"/bills/{bill}/splits")
    assert response.status_code == 503 and "InfluxDB" in response.json()["detail"]
    assert api.call("coordinator", "GET", "/sessions").status_code == 503
    assert api.counts() == before
    influxdb.start()
    assert api.call("treasurer", "POST", f"/bills/{bill}/splits").status_code == 201


def test_counter_cache_gives_the_same_split_as_influxdb(
    influxdb: InfluxDB, site_with_data: tuple[Api, dict[str, Any], int]
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from api.allocation import allocate, parse_scenario, split_to_dict
    from api.models import CounterSlot, ElectricityBill, Site
    from api.services import counter_cache
    from api.services.split_input import build_split_input

    api, _, _ = site_with_data
    bill_id = _flat_bill(api, fixed_cost="10.00")
    cached_run = api.ok("treasurer", "POST", f"/bills/{bill_id}/splits")["result"]
    reader = influxdb.client()
    with api.session() as session:
        raw_slots = 2 * (4 * 24 * 2 + 8)  # two devices, two days of slots and the margins
        cached = session.scalar(select(func.count()).select_from(CounterSlot)) or 0
        assert 0 < cached < raw_slots / 4  # compacted: idle hours are not stored
        site = session.scalars(select(Site)).one()
        bill = session.get(ElectricityBill, bill_id)
        assert bill is not None
        devices = counter_cache.counted_devices(session, site.id)

        def split() -> dict[str, Any]:
            built = build_split_input(session, reader, site, bill)
            return split_to_dict(allocate(parse_scenario(built.scenario)))

        # Cache forgotten: everything is read live from InfluxDB.
        counter_cache.rebuild(session, [d.id for d in devices])
        live = split()
        # Cache settled only up to mid-period: the rest is read live and joined on.
        counter_cache.refresh(
            session, reader, site.name, devices, now=datetime(2026, 3, 3, 10, 7, tzinfo=UTC)
        )
        partly = split()
    reader.close()
    assert live["members"] == cached_run["members"] == partly["members"]
    assert live["total"] == cached_run["total"] == partly["total"] == "110.00"


def test_demand_charge_from_the_main_meter(
    influxdb: InfluxDB, site_with_data: tuple[Api, dict[str, Any], int]
) -> None:
    """A meter node's counter (base load 5 kW + the machines) drives the demand
    charge: players A (laser, 2 kW), B (cnc, 3 kW, on top of base at the peak), base."""
    api, _, _ = site_with_data
    meter = api.ok("admin", "POST", "/devices", json={"name": "node3", "role": "meter"})
    assert meter["role"] == "meter"
    lines = telemetry_lines(
        SITE,
        "node3",
        "2026-02-28T23:00:00",
        "2026-03-03T00:30:00",
        LASER_RUNS + CNC_RUNS,
        base_w=5000,
    )
    influxdb.write(lines)
    building_kwh = 48 * 5 + _energy_kwh(LASER_RUNS) + _energy_kwh(CNC_RUNS)
    bill = _flat_bill(api, str(float(building_kwh)), "73.08", demand_cost="100.00",
                      fixed_cost="0")
    result = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    # Shapley by hand, kW of the coalitions' peaks: v(A)=2, v(B)=3, v(base)=5, v(AB)=3,
    # v(A,base)=7, v(B,base)=8, v(all)=8 -> A 1 kW, B 2 kW, base 5 kW of 8 kW x 100.00.
    assert result["pools"]["demand"]["entries"] == {"A": "12.50", "B": "25.00", "base": "62.50"}
    assert result["total"] == "173.08"
    assert not result["held"], result["alerts"]


@pytest.mark.parametrize(("zone", "band"), [("UTC", "offpeak"), ("Europe/Berlin", "peak")])
def test_band_hours_are_the_sites_local_time(
    influxdb: InfluxDB, make_api: Callable[..., Api], zone: str, band: str
) -> None:
    """B's cnc session runs 14:00-14:30 UTC, i.e. 15:00-15:30 in Berlin (CET)."""
    api, _, _ = populate(influxdb, make_api, site_timezone=zone)
    peak = {"from": "15:00", "to": "20:00"}
    bands = [{"name": "peak", "hours": peak}, {"name": "offpeak"}]
    tariff = api.ok("treasurer", "POST", "/tariffs", json={"name": "tou", "bands": bands})["id"]
    bill = api.ok("treasurer", "POST", "/bills", json={
        "tariff_id": tariff, "period_start": "2026-03-01", "period_end": "2026-03-02",
        "bands": [{"name": "peak", "kwh": "300", "cost": "90.00"},
                  {"name": "offpeak", "kwh": "200", "cost": "40.00"}],
    })["id"]  # fmt: skip
    result = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    lines = result["members"]["B"]["lines"]
    assert {x["item"]: x["quantity"] for x in lines if x["pool"] == "energy"} == {band: "1.5"}


def test_session_snapshots_place_two_members_energy_in_one_slot(
    influxdb: InfluxDB, make_api: Callable[..., Api]
) -> None:
    """A works 10:00-10:07 at 3 kW, B 10:09-10:14 at 1.2 kW on the same machine:
    one 15-minute slot. The split reads the counter as the last reading of each
    slot, so without more the slot's 410 Wh would be shared by time (A 7 minutes,
    B 5, the 3 idle minutes by session minutes). The nodes' counter snapshots on
    the session events say where each session began and ended: A pays the 350 Wh
    A drew, B the 60 Wh B drew."""
    reader = influxdb.client()
    api = make_api(influx=reader)
    ids = {}
    for code in ("A", "B"):
        ids[code] = api.ok("admin", "POST", "/members", json={"code": code, "name": code})["id"]
        api.ok("admin", "POST", "/badges", json={"member_id": ids[code], "uid": UIDS[code]})
    api.ok("treasurer", "POST", "/units", json={"code": "U1", "area_m2": "50"})
    device = api.ok("admin", "POST", "/devices", json={"name": "node1", "role": "machine"})["id"]
    api.ok("admin", "POST", "/machines",
           json={"code": "laser", "rated_power_w": 3000, "device_id": device})
    runs = [Run("2026-03-01T10:00:00", "2026-03-01T10:07:00", 3000),
            Run("2026-03-01T10:09:00", "2026-03-01T10:14:00", 720)]
    samples = telemetry_samples("2026-03-01T09:00:00", "2026-03-02T01:00:00", runs)
    at = {s.ms: s.wh for s in samples}
    day = "2026-03-01T"
    influxdb.write([
        *telemetry_lines(SITE, "node1", "2026-03-01T09:00:00", "2026-03-02T01:00:00", runs),
        *session_lines(SITE, "node1", 1, _hash("A"), day + "10:00:00", day + "10:07:00", 10,
                       (at[ms(day + "10:00:00")], at[ms(day + "10:07:00")])),
        *session_lines(SITE, "node1", 2, _hash("B"), day + "10:09:00", day + "10:14:00", 20,
                       (at[ms(day + "10:09:00")], at[ms(day + "10:14:00")])),
    ])  # fmt: skip
    tariff = api.ok("treasurer", "POST", "/tariffs",
                    json={"name": "flat", "bands": [{"name": "all"}]})["id"]
    bill = api.ok("treasurer", "POST", "/bills", json={
        "tariff_id": tariff, "period_start": "2026-03-01", "period_end": "2026-03-01",
        "bands": [{"name": "all", "kwh": "10", "cost": "3.00"}]})["id"]  # fmt: skip
    result = api.ok("treasurer", "POST", f"/bills/{bill}/splits")["result"]
    energy = {code: sum((Fraction(x["quantity"]) for x in st["lines"] if x["pool"] == "energy"),
                        Fraction(0)) for code, st in result["members"].items()}
    assert energy == {"A": Fraction(350, 1000), "B": Fraction(60, 1000)}, energy
