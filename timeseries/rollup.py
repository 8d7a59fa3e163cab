"""Downsampling: raw readings for a bounded time, rollups for years.

InfluxDB keeps what the gateway writes in the database's default retention
policy `autogen` (raw: every reading). Two more policies hold rollups with the
SAME measurement and field names, so a query reads a rollup by naming its
policy and nothing else (`"rollup_1h"."telemetry"`):

- `rollup_15m`: telemetry per 15 minutes (counters: the last reading, which is
  exactly what the split reads per 15-minute slot; readings: the mean), and
  every `event` point copied as it is (sessions and badge decisions are the
  record the split and the members' history read);
- `rollup_1h`: telemetry and `status` per hour, for charts of months and years.

`rollup_15m` also holds `counter_edge`: each slot's first and last `wh`
reading at their own moments (`bottom()` and `top()` keep a point's time,
also INTO), which is what the split reads per slot
(api/services/counter_cache.py), so a split reads the same once the raw
points are gone.

This is the equivalent of InfluxDB's continuous queries, run by the api
(`run`, every `API_ROLLUP_S`) rather than by InfluxDB, because a continuous
query cannot keep a field's name for a field set that grows (`mean(*)` renames
every field to `mean_<name>`), cannot copy points without aggregating them,
and only sees the newest interval, so neither late data (a node's outbox
replayed after an outage) nor the history before it was created would be
rolled up. Each pass recomputes the last `LOOKBACK` (2 days, as long as the
counter cache's settling time), and every older day a late-write marker
(timeseries/arrivals.py) says was written to since the previous pass: a
rollup point is written with the bucket's time and tags, so recomputing
overwrites it (idempotent).

`ensure` creates the policies (idempotent) and, once every rollup has been
filled back over the raw history (`backfill`), bounds the raw policy."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from timeseries import arrivals
from timeseries.client import InfluxClient, Series
from timeseries.errors import InfluxRejected
from timeseries.influxql import quote_ident, rfc3339

RAW = "autogen"
LOOKBACK = timedelta(days=2)
# What a backfill statement covers at most: bounds InfluxDB's memory per statement.
CHUNK = timedelta(days=7)


@dataclass(frozen=True)
class Rollup:
    policy: str
    bucket: timedelta
    measurements: tuple[str, ...]

    @property
    def every(self) -> str:
        return f"{int(self.bucket.total_seconds())}s"


ROLLUP_15M = Rollup("rollup_15m", timedelta(minutes=15), ("telemetry", "status", "event"))
ROLLUP_1H = Rollup("rollup_1h", timedelta(hours=1), ("telemetry", "status"))
ROLLUPS = (ROLLUP_15M, ROLLUP_1H)
# Each 15-minute slot's first and last `wh` reading, at their own times.
COUNTER_EDGE = "counter_edge"

# Status fields that are not a plain "newest value" over an hour.
STATUS_AGGREGATE = {"heap": "min", "outbox": "max", "dropped": "max", "reconnects": "max",
                    "rssi": "mean"}
# Which policy a chart of a span reads (the first whose span covers it), and its
# bucket there: about 100-400 points per series. Grafana reads the same choice
# from the `rollup_map` points `ensure` writes (dashboards' `$rollup` variable).
SPANS = (
    (timedelta(days=2), RAW, timedelta(minutes=5)),
    (timedelta(days=8), "rollup_15m", timedelta(hours=1)),
    (timedelta(days=40), "rollup_1h", timedelta(hours=6)),
    (timedelta(days=36500), "rollup_1h", timedelta(days=1)),
)
MAP = "rollup_map"


def field_keys(client: InfluxClient, measurement: str) -> dict[str, str]:
    """Field name -> type ("float", "integer", "string", "boolean") in the raw policy."""
    series = client.query(f"SHOW FIELD KEYS FROM {quote_ident(RAW)}.{quote_ident(measurement)}")
    return {str(row[0]): str(row[1]) for s in series for row in s.values}


def _aggregate(measurement: str, name: str, kind: str) -> str | None:
    """The function that rolls a field up under its own name (None: not rolled up)."""
    if kind in ("string", "boolean"):
        return "last" if measurement == "status" else None
    if measurement == "status":
        return STATUS_AGGREGATE.get(name, "last")
    return "last" if kind == "integer" else "mean"  # counters are integers, readings floats


def statement(rollup: Rollup, measurement: str, fields: dict[str, str],
              start: datetime, end: datetime) -> str | None:
    """The SELECT ... INTO that rolls [start, end) of one measurement up."""
    source = f"{quote_ident(RAW)}.{quote_ident(measurement)}"
    target = f"{quote_ident(rollup.policy)}.{quote_ident(measurement)}"
    bounds = f"time >= '{rfc3339(start)}' AND time < '{rfc3339(end)}'"
    if measurement == "event":  # the record itself, copied point by point
        return f"SELECT * INTO {target} FROM {source} WHERE {bounds} GROUP BY *"
    parts = []
    for name, kind in sorted(fields.items()):
        function = _aggregate(measurement, name, kind)
        if function is not None:
            parts.append(f"{function}({quote_ident(name)}) AS {quote_ident(name)}")
    if not parts:
        return None
    return (f"SELECT {', '.join(parts)} INTO {target} FROM {source} WHERE {bounds} "
            f"GROUP BY time({rollup.every}), * fill(none)")


def edge_statements(start: datetime, end: datetime) -> list[str]:
    """The SELECT ... INTO statements that keep each slot's first and last `wh`
    reading of [start, end) in `counter_edge`, at the readings' own times."""
    source = f"{quote_ident(RAW)}.{quote_ident('telemetry')}"
    target = f"{quote_ident(ROLLUP_15M.policy)}.{quote_ident(COUNTER_EDGE)}"
    bounds = f"time >= '{rfc3339(start)}' AND time < '{rfc3339(end)}'"
    return [f'SELECT {selector}("wh", 1) AS "wh" INTO {target} FROM {source} WHERE {bounds} '
            f"GROUP BY time({ROLLUP_15M.every}), * fill(none)" for selector in ("bottom", "top")]


def _floor(moment: datetime, bucket: timedelta) -> datetime:
    step = int(bucket.total_seconds())
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step, UTC)


def roll(client: InfluxClient, start: datetime, end: datetime,
         rollups: Iterable[Rollup] = ROLLUPS) -> int:
    """Recompute every rollup over [start, end), widened to whole buckets; returns
    the points written."""
    written = 0
    fields = {m: field_keys(client, m) for m in ("telemetry", "status", "event")}
    for rollup in rollups:
        edge = _floor(start, rollup.bucket)
        stop = _floor(end, rollup.bucket) + rollup.bucket
        while edge < stop:
            upto = min(edge + CHUNK, stop)
            for measurement in rollup.measurements:
                if not fields[measurement]:
                    continue
                query = statement(rollup, measurement, fields[measurement], edge, upto)
                if query is None:
                    continue
                for series in client.execute(query):
                    written += sum(int(row[1]) for row in series.values)
            if rollup is ROLLUP_15M and "wh" in fields["telemetry"]:
                for query in edge_statements(edge, upto):
                    for series in client.execute(query):
                        written += sum(int(row[1]) for row in series.values)
            edge = upto
    return written


def run(client: InfluxClient, now: datetime | None = None,
        late_since_ms: int | None = None) -> int:
    """One periodic pass: the last LOOKBACK, up to the current bucket; and every
    older day a late write was noted for (timeseries/arrivals.py) at or after
    `late_since_ms` (the writer's clock), so a replay of any age is rolled up."""
    now = now or datetime.now(UTC)
    recent = now - LOOKBACK
    written = roll(client, recent, now)
    if late_since_ms is not None:
        for day in late_days(client, late_since_ms):
            if day < recent.timestamp() * 1000:
                written += roll(client, _at(day), _at(day + arrivals.DAY_MS))
    return written


def late_days(client: InfluxClient, since_ms: int) -> list[int]:
    """Starts of the days (any device) whose late-write marker was written at or
    after `since_ms`."""
    query = (f"SELECT {quote_ident(arrivals.FIELD)} FROM {quote_ident(arrivals.MEASUREMENT)} "
             f"WHERE {quote_ident(arrivals.FIELD)} >= {int(since_ms)}")
    return sorted({int(row[0]) for s in client.query(query) for row in s.values})


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def from_policy(query: str, policy: str) -> str:
    """The same statement on another policy: every `FROM "m"` becomes `FROM "policy"."m"`."""
    return query.replace(' FROM "', f" FROM {quote_ident(policy)}.\"", 1)


def query_rolled_up(client: InfluxClient, query: str, policy: str) -> list[Series]:
    """`query` on a rollup; nothing when that policy was never created (rollups off)."""
    try:
        return client.query(from_policy(query, policy))
    except InfluxRejected as exc:
        if "retention policy not found" in str(exc):
            return []
        raise


def _policies(client: InfluxClient) -> dict[str, str]:
    """Policy name -> duration as InfluxDB prints it ("0s": forever)."""
    return {str(row[0]): str(row[1]) for s in client.query("SHOW RETENTION POLICIES")
            for row in s.values}


def _duration(days: int) -> str:
    return "INF" if days <= 0 else f"{days}d"


def ensure(client: InfluxClient, raw_days: int, rollup_days: int = 0) -> None:
    """Create the rollup policies, or set their duration (idempotent). The raw
    policy's duration is only set by `bound_raw`, after a backfill."""
    database = quote_ident(client.database)
    existing = _policies(client)
    for rollup in ROLLUPS:
        verb = "ALTER" if rollup.policy in existing else "CREATE"
        # Long shard groups: a chart of a year opens one or two shards, not 52.
        client.execute(f"{verb} RETENTION POLICY {quote_ident(rollup.policy)} ON {database} "
                     f"DURATION {_duration(rollup_days)} REPLICATION 1 SHARD DURATION 52w")
    if RAW not in existing:  # a database created with another default
        client.execute(f"CREATE RETENTION POLICY {quote_ident(RAW)} ON {database} "
                     f"DURATION {_duration(raw_days)} REPLICATION 1 DEFAULT")
    client.write_lines(map_lines(), retention_policy=ROLLUP_1H.policy)


def bound_raw(client: InfluxClient, raw_days: int) -> None:
    """Keep raw readings `raw_days` (0: forever). Older raw points are dropped by
    InfluxDB's retention service: back them up into the rollups first."""
    client.execute(f"ALTER RETENTION POLICY {quote_ident(RAW)} ON {quote_ident(client.database)} "
                   f"DURATION {_duration(raw_days)} SHARD DURATION {_shard(raw_days)}")


def _shard(days: int) -> str:
    """InfluxDB's own default shard group for a policy that long (it must be shorter
    than the policy): an hour under 2 days, a day up to 6 months, a week beyond."""
    if 0 < days < 2:
        return "1h"
    return "1d" if 0 < days <= 183 else "7d"


def _influx_duration(days: int) -> str:
    return "0s" if days <= 0 else f"{days * 24}h0m0s"


def oldest_raw(client: InfluxClient) -> datetime | None:
    times = []
    for measurement in ("telemetry", "status", "event"):
        query = f'SELECT * FROM {quote_ident(RAW)}.{quote_ident(measurement)} LIMIT 1'
        times += [int(s.values[0][0]) for s in client.query(query) if s.values]
    return datetime.fromtimestamp(min(times) / 1000, UTC) if times else None


def bootstrap(client: InfluxClient, raw_days: int, now: datetime | None = None) -> int:
    """At start: the policies exist; when the raw policy's duration is not yet
    `raw_days`, everything raw is rolled up first, then the raw policy is bounded.
    Idempotent; returns the points a backfill wrote (0 when none was needed)."""
    ensure(client, raw_days)
    if _policies(client).get(RAW) == _influx_duration(raw_days):
        return 0
    oldest = oldest_raw(client)
    written = backfill(client, oldest, now) if oldest is not None else 0
    bound_raw(client, raw_days)
    return written


def backfill(client: InfluxClient, since: datetime, now: datetime | None = None) -> int:
    """Roll up everything from `since` (e.g. the oldest raw point) to now."""
    return roll(client, since, now or datetime.now(UTC))


def source_for(span: timedelta) -> tuple[str, timedelta]:
    """The policy a chart of `span` reads and its bucket."""
    for longest, policy, bucket in SPANS:
        if span <= longest:
            return policy, bucket
    return SPANS[-1][1], SPANS[-1][2]


def map_lines() -> list[str]:
    """The span -> policy choice as points (one per policy, at 0, 1, 2 ms, so that
    `first()` picks the finest policy whose span covers a range)."""
    out, seen = [], set()
    for n, (longest, policy, _) in enumerate(SPANS):
        if policy not in seen:
            seen.add(policy)
            longest_ms = int(SPANS[-1][0].total_seconds() * 1000) if policy == SPANS[-1][1] \
                else int(longest.total_seconds() * 1000)
            out.append(f'{MAP} policy="{policy}",max_span_ms={longest_ms}i {n}')
    return out
