"""`python -m bench.allocation`: a monthly and a yearly bill split through the
api (HTTP), on a year of 1-minute machine counters in a real InfluxDB.

Loads 40 machines x 525,600 one-minute `telemetry` points (the data
contract's `wh` counter), 20,000 badge sessions as `event` points, and 60
members with badges and leases entered through the api; then times
`POST /bills/{id}/splits` for one month and for the whole year, and the month
once more after one day of every machine was marked as written late (the
split copies that day again from InfluxDB first). Reference,
measured in the same run: the raw InfluxQL queries that the split itself
issues (counters and sessions), i.e. the floor set by InfluxDB. The split's
phases (InfluxDB + SQL -> scenario; the engine) are timed in-process too.

Prints one JSON object as its last line; writes bench/results/allocation.json."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

import httpx

from api.allocation import allocate, parse_scenario, split_to_dict
from api.db import session_scope
from api.main import create_app
from api.models import ElectricityBill, Site, User
from api.security import hash_password
from api.services import counter_cache
from api.services.counter_cache import query_counters
from api.services.sessions import read_sessions
from api.services.split_input import build_split_input, period_bounds
from api.settings import Settings
from bench.allocation_reference import allocate_reference
from devservers import InfluxDB
from devservers.asgi import ThreadedApp
from devservers.process import free_port
from timeseries import InfluxClient, InfluxUnavailable, arrivals

RESULTS = Path(__file__).resolve().parent / "results" / "allocation.json"
SITE = "bench"
BADGE_KEY = "be4c4ba09e0000000000000000000001"
# The data ends a few days ago, so that the counter cache holds all of it (settled slots).
FIRST_DAY = date.today() - timedelta(days=368)
BATCH_LINES = 100_000


def plan_sessions(
    rng: random.Random, machines: int, members: int, sessions: int, days: int
) -> list[tuple[int, int, int, int]]:
    """(machine, member, start minute, end minute), never overlapping on one machine."""
    trained = [rng.sample(range(machines), min(8, machines)) for _ in range(members)]
    busy: list[list[tuple[int, int]]] = [[] for _ in range(machines)]
    out: list[tuple[int, int, int, int]] = []
    while len(out) < sessions:
        member = rng.randrange(members)
        machine = rng.choice(trained[member])
        start = rng.randrange(days) * 1440 + rng.randrange(7 * 60, 21 * 60)
        end = start + rng.randrange(10, 180)
        if any(a < end + 15 and start < b + 15 for a, b in busy[machine]):
            continue
        busy[machine].append((start, end))
        out.append((machine, member, start, end))
    return out


def counter_lines(
    device: str, rated_w: int, runs: list[tuple[int, int, int]], minutes: int, t0_ms: int
) -> list[str]:
    """One `wh` point per minute; the machine draws only while used (plus run-on)."""
    increments = [0] * minutes
    for start, end, watts in runs:
        for m in range(start, min(end, minutes)):
            increments[m] = watts // 60
        for m in range(end, min(end + 5, minutes)):  # exhaust run-on after the session
            increments[m] = rated_w // 5 // 60
    prefix = f"telemetry,device={device},site={SITE} wh="
    return [
        f"{prefix}{wh}i {t0_ms + 60_000 * (m + 1)}" for m, wh in enumerate(accumulate(increments))
    ]


def write(client: InfluxClient, lines: list[str]) -> None:
    body = "\n".join(lines).encode()
    for attempt in range(20):
        try:
            client.write(body)
            return
        except InfluxUnavailable as exc:
            error = exc
            time.sleep(0.5 * (attempt + 1))  # cache full while compacting: back off
    raise RuntimeError(f"InfluxDB refused a batch: {error}")


def load_influx(
    server: InfluxDB,
    plan: list[tuple[int, int, int, int]],
    rated: list[int],
    badges: list[str],
    days: int,
) -> int:
    t0_ms = int(datetime.combine(FIRST_DAY, datetime.min.time(), UTC).timestamp() * 1000)
    client = server.client(600)
    written = 0
    runs: list[list[tuple[int, int, int]]] = [[] for _ in rated]
    rng = random.Random(7)
    events: list[str] = []
    for sid, (machine, member, start, end) in enumerate(plan, 1):
        runs[machine].append((start, end, int(rated[machine] * rng.uniform(0.3, 0.9))))
        tags = f"device=node{machine:02d},site={SITE}"
        badge = badges[member]
        fields = f'sid={sid}i,badge="{badge}"'
        events.append(
            f"event,{tags},kind=session_start seq={2 * sid}i,{fields} {t0_ms + start * 60_000}"
        )
        events.append(
            f'event,{tags},kind=session_end seq={2 * sid + 1}i,{fields},reason="badge_out" '
            f"{t0_ms + end * 60_000}"
        )
    for k in range(0, len(events), BATCH_LINES):
        write(client, events[k : k + BATCH_LINES])
    written += len(events)
    for machine, watts in enumerate(rated):
        lines = counter_lines(f"node{machine:02d}", watts, runs[machine], days * 1440, t0_ms)
        for k in range(0, len(lines), BATCH_LINES):
            write(client, lines[k : k + BATCH_LINES])
        written += len(lines)
    client.close()
    return written


class Served(ThreadedApp):
    def __init__(self, settings: Settings, reader: InfluxClient) -> None:
        super().__init__(create_app(settings, influx=reader), settings.port)


def seed_api(
    client: httpx.Client, machines: int, members: int, rated: list[int], rng: random.Random
) -> list[str]:
    def post(path: str, body: dict[str, Any]) -> Any:
        response = client.post(path, json=body)
        if response.status_code >= 300:
            raise RuntimeError(f"{path}: {response.status_code} {response.text}")
        return response.json()

    badges = []
    for i in range(members):
        member = post("/members", {"code": f"M{i:02d}", "name": f"Member {i}"})
        uid = f"04:{i:02x}:{rng.randrange(256):02x}:{rng.randrange(256):02x}"
        badges.append(post("/badges", {"member_id": member["id"], "uid": uid})["hash"])
        unit = post("/units", {"code": f"U{i:02d}", "area_m2": str(rng.randrange(20, 200))})
        post(
            "/leases",
            {"unit_id": unit["id"], "member_id": member["id"], "start": FIRST_DAY.isoformat()},
        )
    for i in range(10):  # vacant units
        post("/units", {"code": f"V{i}", "area_m2": "60"})
    for k in range(machines):
        device = post("/devices", {"name": f"node{k:02d}", "role": "machine"})
        post(
            "/machines",
            {
                "code": f"mc{k:02d}",
                "rated_power_w": rated[k],
                "grace_minutes": rng.choice([0, 10, 15]),
                "device_id": device["id"],
            },
        )
    return badges


def make_bill(client: httpx.Client, tariff: int, start: date, end: date, kwh: int) -> int:
    body = {
        "tariff_id": tariff,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "bands": [
            {"name": "peak", "kwh": str(kwh * 6 // 10), "cost": f"{kwh * 6 // 10 * 0.30:.2f}"},
            {"name": "offpeak", "kwh": str(kwh * 4 // 10), "cost": f"{kwh * 4 // 10 * 0.20:.2f}"},
        ],
        "fixed_cost": "123.45",
    }
    response = client.post("/bills", json=body)
    response.raise_for_status()
    bill_id: int = response.json()["id"]
    return bill_id


def timed_split(client: httpx.Client, bill: int) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    response = client.post(f"/bills/{bill}/splits", timeout=3600)
    elapsed = time.perf_counter() - started
    if response.status_code != 201:
        raise RuntimeError(f"split of bill {bill}: {response.status_code} {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return elapsed, body


def split_after_a_late_day(
    client: httpx.Client, server: InfluxDB, bill: int, devices: list[str], day: date,
    before: dict[str, Any],
) -> float:
    """Every machine's `day` marked as written late (what the gateway does after a
    replay), then the bill split again: the split copies that day of every machine
    again from InfluxDB first. The data did not change, so neither may the split."""
    day_ms = int(datetime.combine(day, datetime.min.time(), UTC).timestamp() * 1000)
    points = [f"telemetry,device={d},site={SITE} wh=0i {day_ms}" for d in devices]
    with server.client() as writer:
        writer.write_lines(arrivals.markers(points, int(time.time() * 1000)))
    seconds, split = timed_split(client, bill)
    if split["result"] != before["result"]:
        raise AssertionError("copying a day again changed the split")
    return round(seconds, 3)


def phases(
    served: Served, reader: InfluxClient, bill_id: int, *, engine_reference: bool = False
) -> dict[str, float]:
    """Where a split's time goes: scenario building (InfluxDB + SQL), parsing, the
    engine; optionally the engine's exact reference path on the same scenario
    (per-slot Fractions, big-integer sampling), which must give the same split."""
    factory = served.app.state.sessionmaker
    with factory() as session:
        site = session.query(Site).filter_by(name=SITE).one()
        bill = session.get(ElectricityBill, bill_id)
        assert bill is not None
        t0 = time.perf_counter()
        built = build_split_input(session, reader, site, bill)
    t1 = time.perf_counter()
    scenario = parse_scenario(built.scenario)
    t2 = time.perf_counter()
    split = allocate(scenario)
    t3 = time.perf_counter()
    assert split.total_cents > 0
    figures: dict[str, float] = {
        "input_s": round(t1 - t0, 3),
        "parse_s": round(t2 - t1, 3),
        "engine_s": round(t3 - t2, 3),
        "readings": built.series_points,
        "sessions": len(scenario.sessions),
    }
    if engine_reference:
        t4 = time.perf_counter()
        slow = allocate_reference(scenario)
        figures["engine_reference_s"] = round(time.perf_counter() - t4, 3)
        if split_to_dict(slow) != split_to_dict(split):
            raise AssertionError("the fast engine and its reference path disagree")
    return figures


def with_demand(built: dict[str, Any]) -> dict[str, Any]:
    """The same split input plus a demand charge and a main meter (busier on working
    days), so that demand is derived from the attributed slots: every member with
    load is a player in a sampled Shapley game over the period's 15-minute slots."""
    first = date.fromisoformat(built["period"]["start"])
    days = (date.fromisoformat(built["period"]["end"]) - first).days + 1
    main = [
        "90" if (first + timedelta(days=k // 96)).isoweekday() < 6 and 32 <= k % 96 < 80
        else "40"
        for k in range(days * 96)
    ]  # fmt: skip
    bill = {**built["bill"], "demand": {"cost": "5000.00", "method": "shapley"}}
    return {**built, "bill": bill, "main_meter_kwh": main}


def engine_with_demand(served: Served, reader: InfluxClient, bill_id: int) -> dict[str, Any]:
    """The engine alone on the month with a derived demand charge, fast and reference."""
    with served.app.state.sessionmaker() as session:
        site = session.query(Site).filter_by(name=SITE).one()
        bill = session.get(ElectricityBill, bill_id)
        assert bill is not None
        scenario = parse_scenario(
            with_demand(build_split_input(session, reader, site, bill).scenario)
        )
    t0 = time.perf_counter()
    split = allocate(scenario)
    t1 = time.perf_counter()
    slow = allocate_reference(scenario)
    t2 = time.perf_counter()
    if split_to_dict(slow) != split_to_dict(split):
        raise AssertionError("the fast engine and its reference path disagree (demand)")
    assert split.demand is not None
    return {
        "engine_s": round(t1 - t0, 3),
        "engine_reference_s": round(t2 - t1, 3),
        "players": sum(1 for kw in split.demand.kw if kw),
        "method": split.demand.method,
    }


def reference(
    reader: InfluxClient, devices: list[str], start: datetime, end: datetime
) -> dict[str, float]:
    t0 = time.perf_counter()
    counters = query_counters(
        reader, SITE, devices, start - timedelta(hours=1), end + timedelta(minutes=15)
    )
    t1 = time.perf_counter()
    sessions = read_sessions(reader, SITE, start, end)
    t2 = time.perf_counter()
    assert counters and sessions
    return {
        "counters_query_s": round(t1 - t0, 3),
        "sessions_query_s": round(t2 - t1, 3),
        "query_s": round(t2 - t0, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--machines", type=int, default=40)
    parser.add_argument("--members", type=int, default=60)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(2025)
    rated = [rng.choice([800, 1500, 3000, 5000, 7500, 11000]) for _ in range(args.machines)]
    figures: dict[str, Any] = {
        "machines": args.machines,
        "members": args.members,
        "sessions": args.sessions,
        "days": args.days,
    }
    with tempfile.TemporaryDirectory(prefix="bench-allocation-") as tmp:
        influx = InfluxDB(Path(tmp) / "influxdb")
        influx.start()
        reader = influx.client(3600)
        settings = Settings(
            database_url=f"sqlite:///{tmp}/api.db", site=SITE, badge_hash_key=BADGE_KEY,
            port=free_port(), mqtt_port=free_port(), mqtt_timeout_s=0.5,
            device_logins="manual", acl_sweep_s=3600,
            counter_refresh_s=0, rollup_s=0,  # nothing else reads InfluxDB while timing
        )  # fmt: skip
        served = Served(settings, reader)
        try:
            client = httpx.Client(base_url=served.url, timeout=3600)
            admin = "bench-admin"

            with session_scope(served.app.state.sessionmaker) as session:
                session.add(
                    User(
                        username=admin, password_hash=hash_password("bench-password"), role="admin"
                    )
                )
            token = client.post(
                "/auth/token", json={"username": admin, "password": "bench-password"}
            ).json()
            client.headers["Authorization"] = f"Bearer {token['access_token']}"
            t = time.perf_counter()
            badges = seed_api(client, args.machines, args.members, rated, rng)
            figures["seed_api_s"] = round(time.perf_counter() - t, 2)
            plan = plan_sessions(rng, args.machines, args.members, args.sessions, args.days)
            t = time.perf_counter()
            figures["points_written"] = load_influx(influx, plan, rated, badges, args.days)
            figures["load_influx_s"] = round(time.perf_counter() - t, 1)
            peak = {"from": "08:00", "to": "20:00", "weekdays": [1, 2, 3, 4, 5]}
            bands = [{"name": "peak", "hours": peak}, {"name": "offpeak"}]
            tariff = client.post("/tariffs", json={"name": "two-band", "bands": bands}).json()["id"]
            first = FIRST_DAY
            month_end = (
                first + timedelta(days=30)
                if args.days >= 31
                else first + timedelta(days=args.days - 1)
            )
            year_end = first + timedelta(days=args.days - 1)
            month_bill = make_bill(client, tariff, first, month_end, 400_000)
            year_bill = make_bill(client, tariff, first, year_end, 5_000_000)
            devices = [f"node{k:02d}" for k in range(args.machines)]
            with served.app.state.sessionmaker() as session:
                site = session.query(Site).filter_by(name=SITE).one()
                month_bounds = period_bounds(site, first, month_end)
                year_bounds = period_bounds(site, first, year_end)
            # The one-time copy of settled counter slots from InfluxDB (the api does it in
            # the background every API_COUNTER_REFRESH_S; the first split would do it too).
            t = time.perf_counter()
            with session_scope(served.app.state.sessionmaker) as session:
                site_row = session.query(Site).filter_by(name=SITE).one()
                devices_rows = counter_cache.counted_devices(session, site_row.id)
                figures["counter_cache_rows"] = counter_cache.refresh(
                    session, reader, SITE, devices_rows
                ).rows
            figures["counter_cache_refresh_s"] = round(time.perf_counter() - t, 2)
            months = [timed_split(client, month_bill) for _ in range(args.repeat)]
            figures["monthly_split_s"] = round(statistics.median(s for s, _ in months), 3)
            figures["monthly_split_runs_s"] = [round(s, 3) for s, _ in months]
            figures["monthly_split_after_late_day_s"] = split_after_a_late_day(
                client, influx, month_bill, devices, first + timedelta(days=10), months[-1][1]
            )
            figures["month_reference"] = reference(reader, devices, *month_bounds)
            figures["month_phases"] = phases(served, reader, month_bill, engine_reference=True)
            figures["month_engine_with_demand"] = engine_with_demand(served, reader, month_bill)
            year_s, year = timed_split(client, year_bill)
            figures["yearly_split_s"] = round(year_s, 3)
            figures["year_reference"] = reference(reader, devices, *year_bounds)
            figures["year_phases"] = phases(served, reader, year_bill, engine_reference=True)
            figures["yearly_total"] = year["result"]["total"]
            figures["monthly_total"] = months[0][1]["result"]["total"]
            figures["targets"] = {"monthly_split_s": 1.0, "yearly_split_s": 10.0}
            client.close()
        finally:
            served.close()
            reader.close()
            influx.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
