"""`python -m bench.web`: the web app's data for a building with a year of
history stays fast, because long ranges read rollups, not raw readings.

Loads a 66-node building (60 machine nodes with sessions in working hours,
4 heating nodes with 3 zones, 2 meters; telemetry every 60 s, the firmware's
default, health status every 300 s) for `--days` (365) ending now into a real
InfluxDB 1.6, with a boiler failing in the last hours, one alert pass of the
real alert service, members, machines, badges, trainings and a split bill in
SQLite. Then the rollups are made the way the api makes them at start
(`rollup.bootstrap`: policies, a backfill of the whole history, the raw policy
bounded), and one periodic pass is timed.

Measured through the api served by uvicorn over real HTTP, each the median of
`--repeat` runs, a page's requests sent at once as the page does:
- every page's data: the coordinator's (building now, the 24 h heating and
  power charts, the alert history), the member's, the treasurer's, the admin's;
- every chart (heating, power) for 24 h, 7 days, 30 days and a year.

References in the same run (keys with `raw`): the raw InfluxQL a naive page
would send, straight to InfluxDB over HTTP, bytes read but not parsed: the
year's charts grouped by day over the raw readings, and the coordinator page's
newest values without time bounds.

Storage per node per year: the raw policy's shards on disk after compaction
(without downsampling), against the rollups plus the raw readings the raw
policy keeps (`--raw-days`, 90).

Prints one JSON object as its last line; writes bench/results/web.json."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker

from alerts.config import RulesConfig
from alerts.delivery import Dispatcher
from alerts.runner import AlertService
from api.main import create_app, start_up
from api.models import User
from api.security import hash_password
from api.settings import Settings
from bench.alerts import working_sessions
from bench.synthetic import DAY_MS, HOUR_MS, SITE, Heating, Machine, Meter, heartbeat
from devservers import InfluxDB, Mosquitto
from devservers.asgi import ThreadedApp
from protocol.badge import badge_hash, parse_key, uid_from_hex
from timeseries import InfluxClient, InfluxSettings, rollup

RESULTS = Path(__file__).resolve().parent / "results" / "web.json"
TELEMETRY_S, STATUS_S = 60, 300
BADGE_KEY = "be4c4be4c4be4c4be4c4be4c4be4c4b0"
CHARTS = ("heating", "power")
RANGES = ("24h", "7d", "30d", "365d")


class CompactingInfluxDB(InfluxDB):
    """Flushes and compacts within seconds of the last write, so that the bytes on
    disk are what a server holds after a quiet night, not its write-ahead log."""

    def prepare(self) -> None:
        super().prepare()
        text = self.conf_path.read_text().replace(
            'wal-fsync-delay = "0s"\n',
            'wal-fsync-delay = "0s"\n  cache-snapshot-write-cold-duration = "5s"\n'
            '  compact-full-write-cold-duration = "15s"\n')
        self.conf_path.write_text(text)


def member_uid(k: int) -> str:
    return f"04:{k // 256:02X}:{k % 256:02X}:5A"


def node_lines(kind: str, k: int, start: int, end: int, seed: int) -> Iterator[str]:
    """One node's history; a machine's sessions are badged by member k."""
    if kind == "machine":
        rng = random.Random(seed + k)
        machine = Machine(f"machine{k:02d}", sessions=working_sessions(rng, start, end),
                          has_relay=k % 6 != 5,
                          running_w=rng.choice([800.0, 1500.0, 3000.0, 7500.0]), seed=seed + k)
        badge = badge_hash(parse_key(BADGE_KEY), uid_from_hex(member_uid(k)))
        for text in machine.series(start, end, TELEMETRY_S):
            yield text.replace('badge="0123456789abcdef"', f'badge="{badge}"')
        yield from heartbeat(machine.device, "machine", start, end, STATUS_S)
    elif kind == "heating":
        failed = [(end - 3 * HOUR_MS, end)] if k == 0 else []
        heating = Heating(f"boiler{k}", zones=3, failed=failed, seed=seed + 100 + k)
        yield from heating.series(start, end, TELEMETRY_S)
        yield from heartbeat(heating.device, "heating", start, end, STATUS_S)
    else:
        meter = Meter(f"meter{k}", night_w=800.0 + 400 * k, seed=seed + 200 + k)
        yield from meter.series(start, end, TELEMETRY_S)
        yield from heartbeat(meter.device, "meter", start, end, STATUS_S)


def load_nodes(settings: InfluxSettings, nodes: list[tuple[str, int]], start: int, end: int,
               seed: int) -> int:
    """A worker process: generates its nodes' years and writes them in batches."""
    with InfluxClient(settings, 300) as writer:
        return sum(writer.write_lines(node_lines(kind, k, start, end, seed), 20_000)
                   for kind, k in nodes)


def load(influx: InfluxDB, machines: int, heating: int, meters: int, start: int, end: int,
         seed: int, workers: int) -> int:
    nodes = ([("machine", k) for k in range(machines)] + [("heating", k) for k in range(heating)]
             + [("meter", k) for k in range(meters)])
    shares = [nodes[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers) as pool:
        jobs = [pool.submit(load_nodes, influx.settings, share, start, end, seed)
                for share in shares]
        return sum(job.result() for job in jobs)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def settle(influx: InfluxDB, timeout_s: float = 600) -> None:
    """Waits until the write-ahead log is flushed into compacted TSM files."""
    wal = influx.workdir / "wal" / influx.database
    deadline = time.monotonic() + timeout_s
    last = -1
    while time.monotonic() < deadline:
        size = du(wal)
        if size < 1_000_000 and size == last:
            return
        last = size
        time.sleep(5)


def shard_bytes(influx: InfluxDB, reader: InfluxClient, policy: str,
                since_ms: int | None = None) -> int:
    """Bytes on disk of a policy's shards (those ending after `since_ms`)."""
    total = 0
    for series in reader.query("SHOW SHARDS"):
        for row in series.rows:
            if row["database"] != influx.database or row["retention_policy"] != policy:
                continue
            end_time = row["end_time"]
            ends = end_time if isinstance(end_time, int) else int(datetime.fromisoformat(
                str(end_time).replace("Z", "+00:00")).timestamp() * 1000)
            if since_ms is None or ends > since_ms:
                total += du(influx.workdir / "data" / influx.database / policy / str(row["id"]))
    return total


def enrol(api: httpx.Client, machines: int) -> dict[str, Any]:
    """Members with badges and trainings, machines on their nodes, a split bill."""
    def post(path: str, body: dict[str, Any]) -> Any:
        response = api.post(path, json=body)
        response.raise_for_status()
        return response.json()

    members = [post("/members", {"code": f"M{k:02d}", "name": f"Member {k:02d}"})
               for k in range(machines)]
    for k, member in enumerate(members):
        post("/badges", {"member_id": member["id"], "uid": member_uid(k)})
        device = post("/devices", {"name": f"machine{k:02d}", "role": "machine"})
        machine = post("/machines", {"code": f"machine{k:02d}", "rated_power_w": 3000,
                                     "device_id": device["id"]})
        post("/trainings", {"member_id": member["id"], "machine_id": machine["id"]})
        unit = post("/units", {"code": f"U{k:02d}", "area_m2": "40"})
        post("/leases", {"unit_id": unit["id"], "member_id": member["id"], "start": "2020-01-01"})
    post("/users", {"username": "member", "password": "member-password", "role": "member",
                    "member_id": members[0]["id"]})
    tariff = post("/tariffs", {"name": "flat", "bands": [{"name": "all"}]})
    today = datetime.now(UTC).date()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    last = today.replace(day=1) - timedelta(days=1)
    bill = post("/bills", {"tariff_id": tariff["id"], "period_start": first.isoformat(),
                           "period_end": last.isoformat(), "fixed_cost": "150.00",
                           "bands": [{"name": "all", "kwh": "9000", "cost": "1800.00"}]})
    manual = {"metered_kwh": {m["code"]: {"all": str(100 + k)} for k, m in enumerate(members)}}
    split = post(f"/bills/{bill['id']}/splits", {"manual": manual})
    return {"bill": bill["id"], "split": split["id"], "member": members[0]["id"]}


def at_once(fetch: Callable[[str], object], items: list[str]) -> float:
    """Seconds until every item has its answer, read whole, all sent at once (as a
    page sends its requests)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(items)) as pool:
        list(pool.map(fetch, items))
    return time.perf_counter() - started


def timed_page(client: httpx.Client, token: str, paths: list[str]) -> float:
    """A page's data through the api."""
    headers = {"Authorization": f"Bearer {token}"}

    def get(path: str) -> bytes:
        response = client.get(path, headers=headers)
        response.raise_for_status()
        return response.content

    return at_once(get, paths)


def raw_influxql(store: InfluxClient, queries: list[str]) -> Callable[[], float]:
    """The naive page: its statements straight to InfluxDB, answers read unparsed."""
    return partial(at_once, store.query_raw, queries)


NAIVE_CHART = {
    "heating": 'SELECT mean("t_flow"), mean("t_return"), mean(/^t_zone/) FROM "telemetry" '
               'WHERE "burn_s" >= 0 AND time > now() - {span} GROUP BY time({bucket}), "device"',
    "power": 'SELECT mean("w") FROM "telemetry" WHERE "pulses" >= 0 AND time > now() - {span} '
             'GROUP BY time({bucket}), "device"',
}
NAIVE_NOW = ['SELECT last(*) FROM "telemetry" GROUP BY "device"',
             'SELECT last(*) FROM "status" GROUP BY "device"',
             'SELECT * FROM "event" WHERE "kind" = \'session_start\' OR "kind" = \'session_end\' '
             'GROUP BY "device"']


def median_ms(run: Callable[[], float], repeat: int) -> float:
    run()  # warm: the first read of a shard opens its files
    return round(statistics.median(run() for _ in range(repeat)) * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--machines", type=int, default=60)
    parser.add_argument("--heating", type=int, default=4)
    parser.add_argument("--meters", type=int, default=2)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--raw-days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="processes generating the data")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.days < 2 or args.machines < 1 or args.heating < 1 or args.meters < 1:
        parser.error("need --days >= 2 and at least one machine, heating node and meter")
    load_before = os.getloadavg()[0]
    devices = args.machines + args.heating + args.meters
    figures: dict[str, Any] = {"benchmark": "web", "devices": devices, "machines": args.machines,
                               "heating_nodes": args.heating, "meters": args.meters,
                               "days": args.days, "telemetry_s": TELEMETRY_S,
                               "status_s": STATUS_S, "raw_days": args.raw_days}
    end = int(time.time() * 1000) // 60_000 * 60_000
    start = end - args.days * DAY_MS
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        workdir = Path(tmp)
        influx = CompactingInfluxDB(workdir / "influxdb")
        broker = Mosquitto(workdir / "mosquitto", {"api": "api-secret"}, superusers=("api",))
        influx.start()
        broker.start()
        reader = influx.client(600)
        try:
            started = time.perf_counter()
            figures["points_written"] = load(influx, args.machines, args.heating, args.meters,
                                             start, end, args.seed, args.workers)
            figures["load_influx_s"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            figures["backfill_points"] = rollup.bootstrap(reader, args.raw_days)
            figures["backfill_s"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            rollup.run(reader)
            figures["periodic_rollup_pass_s"] = round(time.perf_counter() - started, 2)
            settle(influx)
            year_ms = 365 * DAY_MS
            per_year = year_ms / (end - start) / devices
            raw = shard_bytes(influx, reader, rollup.RAW)
            kept_raw = shard_bytes(influx, reader, rollup.RAW, end - args.raw_days * DAY_MS)
            rolled = sum(shard_bytes(influx, reader, r.policy) for r in rollup.ROLLUPS)
            figures["storage_bytes_per_node_year_raw"] = int(raw * per_year)
            figures["storage_bytes_per_node_year_downsampled"] = int(
                rolled * per_year + kept_raw / devices)
            figures["storage_bytes_per_node_year_rollups_only"] = int(rolled * per_year)

            settings = Settings(database_url=f"sqlite:///{workdir / 'api.db'}", site=SITE,
                                secret_key="bench-secret", badge_hash_key=BADGE_KEY,
                                **influx.settings.model_dump(), counter_refresh_s=0,
                                device_logins="manual",  # a broker with a password file
                                rollup_s=0, acl_sweep_s=3600,
                                mqtt_host=broker.host, mqtt_port=broker.port,
                                mqtt_username="api", mqtt_password=SecretStr("api-secret"))
            engine = start_up(settings)
            factory = sessionmaker(engine, expire_on_commit=False)
            with factory() as session, session.begin():
                for name, role in (("admin", "admin"), ("coordinator", "coordinator"),
                                   ("treasurer", "treasurer")):
                    session.add(User(username=name, password_hash=hash_password(name + "-pw"),
                                     role=role))
            source = influx.client()
            found, _ = AlertService(source, RulesConfig(), factory,
                                    Dispatcher([], factory)).evaluate_once(end)
            source.close()
            figures["alerts_open"] = len(found)
            with ThreadedApp(create_app(settings, publisher=None, influx=reader)) as served:
                client = httpx.Client(base_url=served.url, timeout=600)

                def log_in(name: str, password: str) -> str:
                    answer = client.post("/auth/token",
                                         json={"username": name, "password": password})
                    answer.raise_for_status()
                    token: str = answer.json()["access_token"]
                    return token

                tokens = {name: log_in(name, name + "-pw")
                          for name in ("admin", "coordinator", "treasurer")}
                admin = httpx.Client(base_url=served.url, timeout=600,
                                     headers={"Authorization": f"Bearer {tokens['admin']}"})
                ids = enrol(admin, args.machines)
                admin.close()
                tokens["member"] = log_in("member", "member-password")
                pages = {
                    "coordinator_page": ("coordinator", [
                        "/me", "/building/now", "/building/charts/heating?range=24h",
                        "/building/charts/power?range=24h", "/alerts?limit=50"]),
                    "member_page": ("member", ["/me", "/sessions", "/me/price", "/me/machines",
                                               "/me/statements"]),
                    "treasurer_page": ("treasurer", [
                        "/me", "/members", "/tariffs", "/bills", f"/bills/{ids['bill']}/splits",
                        f"/splits/{ids['split']}"]),
                    "admin_page": ("admin", ["/me", "/members", "/units", "/leases", "/devices",
                                             "/machines", "/badges", "/trainings",
                                             "/audit?limit=50"]),
                }
                for key, (who, paths) in pages.items():
                    figures[f"{key}_ms"] = median_ms(
                        partial(timed_page, client, tokens[who], paths), args.repeat)
                for chart in CHARTS:
                    for span in RANGES:
                        path = f"/building/charts/{chart}?range={span}"
                        figures[f"chart_{chart}_{span}_ms"] = median_ms(
                            partial(timed_page, client, tokens["coordinator"], [path]),
                            args.repeat)
                client.close()
            for chart, query in NAIVE_CHART.items():
                for span, bucket in (("24h", "5m"), ("365d", "1d")):
                    naive = raw_influxql(reader, [query.format(span=span, bucket=bucket)])
                    figures[f"chart_{chart}_{span}_raw_ms"] = median_ms(naive, args.repeat)
            naive_page = [*NAIVE_NOW,
                          NAIVE_CHART["heating"].format(span="24h", bucket="5m"),
                          NAIVE_CHART["power"].format(span="24h", bucket="5m")]
            figures["coordinator_page_raw_ms"] = median_ms(raw_influxql(reader, naive_page),
                                                           args.repeat)
            engine.dispose()
        finally:
            reader.close()
            broker.close()
            influx.close()
    figures.update({"cpus": os.cpu_count(), "load_avg_before": round(load_before, 2),
                    "load_avg_after": round(os.getloadavg()[0], 2),
                    "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
