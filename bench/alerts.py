"""`python -m bench.alerts`: how long one pass of the alert service takes for a
full building, against the 30 s it has between passes.

Loads a large building into a real InfluxDB (60 machine nodes with sessions in
working hours, 4 heating nodes with 3 zones, 2 meters; telemetry every 60 s,
the firmware's default, and health status every 300 s; 16 days, so that the
base-load rule has its 14 learning nights), with faults on the last day (a
welded relay, a machine left on, a burner out, a node gone silent, a night load
on a meter) so that alerts open, update and resolve. Then runs `AlertService.evaluate_once`
at `--passes` moments spread over the last day, each pass timed whole and by
phase: fetch (InfluxQL over HTTP + parsing + grouping), rules (pure Python),
lifecycle (SQL; SQLite in a file, or `--postgres`), write-back (alert points
to InfluxDB). The phases are timed on the real pass by wrapping the functions
it calls, not on a copy of it.

Reference, measured in the same run right after each pass: the exact InfluxQL
statements that pass issued (recorded from the source), sent straight over
HTTP and read as bytes, without parsing: the floor set by InfluxDB.

Prints one JSON object as its last line; writes bench/results/alerts.json."""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from alerts import lifecycle, runner
from alerts.config import RulesConfig
from alerts.delivery import Dispatcher
from alerts.delivery.message import Message
from alerts.findings import Finding
from alerts.models import Alert, AlertDelivery, Base
from alerts.queries import fetch
from alerts.runner import AlertService
from alerts.settings import Settings
from bench.ingest import own_cpu_s, process_cpu_s
from bench.synthetic import DAY_MS, HOUR_MS, Heating, Machine, Meter, heartbeat, ms, status
from devservers import InfluxDB, PostgreSQL
from timeseries import InfluxClient, Series
from timeseries.client import Epoch

RESULTS = Path(__file__).resolve().parent / "results" / "alerts.json"
# A Saturday 00:00 UTC: the last day, where the passes run, is a working day.
END = ms("2026-11-21T00:00")
MINUTE_MS = 60_000
TELEMETRY_S = 60  # the firmware's default telemetry_s
STATUS_S = 300

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Building:
    machines: list[Machine]
    heating: list[Heating]
    meters: list[Meter]
    silent: str  # the node that stops sending on the last day
    silent_from: int

    @property
    def devices(self) -> int:
        return len(self.machines) + len(self.heating) + len(self.meters)


def working_sessions(rng: random.Random, start: int, end: int) -> list[tuple[int, int]]:
    """0-3 sessions of 15-120 min between 08:00 and 19:00 on weekdays, never overlapping."""
    out: list[tuple[int, int]] = []
    for day in range(start, end, DAY_MS):
        if time.gmtime(day / 1000).tm_wday >= 5:
            continue
        busy_until = day + 8 * HOUR_MS
        for _ in range(rng.randrange(4)):
            begin = max(busy_until, day + rng.randrange(8 * 60, 17 * 60) * MINUTE_MS)
            stop = begin + rng.randrange(15, 121) * MINUTE_MS
            if stop > day + 19 * HOUR_MS:
                break
            out.append((begin, stop))
            busy_until = stop + 10 * MINUTE_MS
    return out


def plan_building(machines: int, heating: int, meters: int, days: int, seed: int) -> Building:
    rng = random.Random(seed)
    start, last_day = END - days * DAY_MS, END - DAY_MS
    # Power with no session: through an open relay (welded) on machine00; on
    # machine05, which has no relay, a machine left on after lunch.
    faults = {0: (last_day + 10 * HOUR_MS, last_day + 11 * HOUR_MS),
              5: (last_day + 13 * HOUR_MS, last_day + 15 * HOUR_MS)}
    machine_nodes = []
    for k in range(machines):
        sessions = working_sessions(rng, start, END)
        unattended = []
        if k in faults:
            a, b = faults[k]
            sessions = [s for s in sessions if s[1] <= a or s[0] >= b]
            unattended.append((a, b))
        machine_nodes.append(Machine(
            f"machine{k:02d}", sessions=sessions, unattended=unattended,
            has_relay=k % 6 != 5, running_w=rng.choice([800.0, 1500.0, 3000.0, 7500.0]),
            seed=seed + k,
        ))
    heating_nodes = [
        Heating(f"boiler{k}", zones=3, seed=seed + 100 + k,
                failed=[(last_day + 7 * HOUR_MS, last_day + 10 * HOUR_MS)] if k == 0 else [])
        for k in range(heating)
    ]
    meter_nodes = [
        Meter(f"meter{k}", night_w=800.0 + 400 * k, seed=seed + 200 + k,
              extra=[(last_day + 1 * HOUR_MS, last_day + 5 * HOUR_MS, 1500.0)] if k == 0 else [])
        for k in range(meters)
    ]
    silent = machine_nodes[-1].device if machine_nodes else heating_nodes[-1].device
    return Building(machine_nodes, heating_nodes, meter_nodes, silent, last_day + 16 * HOUR_MS)


def building_lines(building: Building, days: int) -> Iterator[str]:
    start = END - days * DAY_MS
    nodes: list[tuple[str, str, Callable[[int, int, int], Iterator[str]]]] = [
        *((m.device, "machine", m.series) for m in building.machines),
        *((h.device, "heating", h.series) for h in building.heating),
        *((m.device, "meter", m.series) for m in building.meters),
    ]
    for device, role, series in nodes:
        end = building.silent_from if device == building.silent else END
        yield from series(start, end, TELEMETRY_S)
        yield from heartbeat(device, role, start, end, STATUS_S)
    # The broker's last will for the silent node, as the gateway stores it.
    yield status(building.silent, building.silent_from + 90_000, "", online=False)


class RecordingSource(InfluxClient):
    """The service's own source, noting each statement and the rows it returned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queries: list[str] = []
        self.rows = 0

    def query(self, influxql: str, epoch: Epoch | None = "ms") -> list[Series]:
        self.queries.append(influxql)
        series = super().query(influxql, epoch)
        self.rows += sum(len(s.rows) for s in series)
        return series


@dataclass
class Stopwatch:
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def wrap(self, phase: str, fn: F) -> F:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[phase] += time.perf_counter() - started

        return timed  # type: ignore[return-value]


@contextmanager
def phases_of(service: AlertService, watch: Stopwatch) -> Iterator[None]:
    """Times the functions the real pass calls, by the names it calls them."""
    assert service.timeline is not None
    patched: list[tuple[Any, str, Any]] = [
        (runner, "fetch", runner.fetch),
        (runner, "findings", runner.findings),
        (lifecycle, "apply", lifecycle.apply),
        (service.timeline, "write_lines", service.timeline.write_lines),
    ]
    names = {
        "fetch": "fetch", "findings": "rules", "apply": "lifecycle", "write_lines": "write_back"
    }
    for owner, name, original in patched:
        setattr(owner, name, watch.wrap(names[name], original))
    try:
        yield
    finally:
        for owner, name, original in patched:
            if owner is service.timeline:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


class Unsent:
    """A channel name for the delivery rows a real service creates; the bench
    never starts the dispatcher, so nothing is sent."""

    name = "webhook:bench"

    def send(self, message: Message) -> None:
        raise RuntimeError("the bench sends nothing")


def raw_queries(client: InfluxClient, queries: list[str]) -> list[float]:
    """The same statements over HTTP, bytes read but not parsed; seconds each."""
    seconds = []
    for q in queries:
        started = time.perf_counter()
        client.query_raw(q)
        seconds.append(time.perf_counter() - started)
    return seconds


def statement(influxql: str) -> str:
    """A query with its time bounds blanked, to name it across passes."""
    return re.sub(r"\d+ms", "<t>", influxql)


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "median": round(statistics.median(ordered), 4),
        "p95": round(p95, 4),
        "max": round(ordered[-1], 4),
    }


@dataclass
class Pass:
    now_ms: int
    total_s: float
    phases_s: dict[str, float]
    raw_s: dict[str, float]  # statement -> seconds
    queries: int
    rows: int
    findings: int
    cpu_s: float  # this process: the service's own work
    influx_cpu_s: float


def one_pass(
    service: AlertService, source: RecordingSource, raw_client: InfluxClient, influx_pid: int,
    now_ms: int,
) -> Pass:
    watch = Stopwatch()
    source.queries, source.rows = [], 0
    with phases_of(service, watch):
        cpu, influx_cpu = own_cpu_s(), process_cpu_s(influx_pid)
        started = time.perf_counter()
        found: list[Finding] = service.evaluate_once(now_ms)[0]
        total = time.perf_counter() - started
        cpu, influx_cpu = own_cpu_s() - cpu, process_cpu_s(influx_pid) - influx_cpu
    raw = dict(zip(map(statement, source.queries),
                   raw_queries(raw_client, source.queries), strict=True))
    phases = dict(watch.seconds)
    phases["other"] = max(0.0, total - sum(phases.values()))
    return Pass(now_ms, total, phases, raw, len(source.queries), source.rows, len(found),
                cpu, influx_cpu)


def measure(
    influx: InfluxDB, database_url: str, passes: int, warmup: int = 1
) -> tuple[list[Pass], dict[str, Any]]:
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    source = RecordingSource(influx.settings, timeout_s=30)
    timeline = influx.client(30, influx.alerts_database)
    service = AlertService(source, RulesConfig(), sessions, Dispatcher([Unsent()], sessions),
                           timeline=timeline)
    assert influx.proc is not None
    step = DAY_MS // passes
    moments = [END - DAY_MS + (i + 1) * step for i in range(passes)]
    try:
        with influx.client(60) as raw:
            for k in range(warmup, 0, -1):  # the service runs all the time: caches are warm
                one_pass(service, source, raw, influx.proc.pid, moments[0] - k * 30_000)
            measured = [one_pass(service, source, raw, influx.proc.pid, now) for now in moments]
        with sessions() as session:
            counts = {
                "devices_seen": len(fetch(source, service.config, END).liveness),
                "alerts": session.scalar(select(func.count()).select_from(Alert)) or 0,
                "alerts_resolved": session.scalar(
                    select(func.count()).select_from(Alert).where(Alert.state == "resolved")
                ) or 0,
                "deliveries": session.scalar(select(func.count()).select_from(AlertDelivery))
                or 0,
                "alert_kinds": sorted(set(session.scalars(select(Alert.kind)))),
            }
    finally:
        source.close()
        timeline.close()
        engine.dispose()
    return measured, counts


def summary(passes: list[Pass], interval_s: float) -> dict[str, Any]:
    totals = [p.total_s for p in passes]
    raws = [sum(p.raw_s.values()) for p in passes]
    statements = sorted({q for p in passes for q in p.raw_s})
    phase_names = ["fetch", "rules", "lifecycle", "write_back", "other"]
    fetch = [p.phases_s.get("fetch", 0.0) for p in passes]
    worst = max(totals)
    return {
        "pass_s": spread(totals),
        "phases_s": {
            name: spread([p.phases_s.get(name, 0.0) for p in passes]) for name in phase_names
        },
        "reference_raw_queries_s": spread(raws),
        "reference_raw_query_s_by_statement": {
            q: round(statistics.median(p.raw_s[q] for p in passes if q in p.raw_s), 4)
            for q in statements
        },
        "fetch_over_raw_queries": round(statistics.median(fetch) / statistics.median(raws), 2),
        "queries_per_pass": max(p.queries for p in passes),
        "rows_fetched_per_pass": spread([float(p.rows) for p in passes]),
        "findings_per_pass": spread([float(p.findings) for p in passes]),
        "service_cpu_s_per_pass": spread([p.cpu_s for p in passes]),
        "influx_cpu_s_per_pass": spread([p.influx_cpu_s for p in passes]),
        "interval_s": interval_s,
        # How many times the worst pass fits in the interval; its share of it.
        "headroom_x": round(interval_s / worst, 1),
        "worst_pass_share_of_interval": round(worst / interval_s, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--machines", type=int, default=60)
    parser.add_argument("--heating", type=int, default=4)
    parser.add_argument("--meters", type=int, default=2)
    parser.add_argument("--days", type=int, default=16,
                        help="history; the base-load rule learns over 14 nights")
    parser.add_argument("--passes", type=int, default=48,
                        help="evaluations spread evenly over the last day")
    parser.add_argument("--postgres", action="store_true",
                        help="alert tables in PostgreSQL 15 instead of a SQLite file")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.days < 2 or args.passes < 1 or args.machines + args.heating < 1:
        parser.error("need --days >= 2, --passes >= 1 and at least one machine or heating node")
    load_before = os.getloadavg()[0]
    building = plan_building(args.machines, args.heating, args.meters, args.days, args.seed)
    figures: dict[str, Any] = {
        "benchmark": "alerts",
        "machines": args.machines,
        "heating_nodes": args.heating,
        "meters": args.meters,
        "devices": building.devices,
        "days": args.days,
        "passes": args.passes,
        "telemetry_s": TELEMETRY_S,
        "status_s": STATUS_S,
        "database": "postgresql" if args.postgres else "sqlite",
    }
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        workdir = Path(tmp)
        influx = InfluxDB(workdir / "influxdb")
        postgres = PostgreSQL(workdir / "postgres") if args.postgres else None
        influx.start()
        try:
            started = time.perf_counter()
            figures["points_written"] = influx.write(building_lines(building, args.days))
            figures["load_influx_s"] = round(time.perf_counter() - started, 1)
            if postgres is not None:
                postgres.start()
            url = postgres.url if postgres is not None else f"sqlite:///{workdir / 'alerts.db'}"
            passes, counts = measure(influx, url, args.passes)
        finally:
            if postgres is not None:
                postgres.close()
            influx.close()
    figures.update(summary(passes, Settings.model_fields["interval_s"].default))
    figures.update(counts)
    figures.update({
        "cpus": os.cpu_count(),
        "load_avg_before": round(load_before, 2),
        "load_avg_after": round(os.getloadavg()[0], 2),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
