"""The coordinator's charts: heating and building power over a day, a week, a
month or a year, each read from the retention policy that keeps the answer
small (timeseries/rollup.py), in columns ready for the chart library."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from api.services.building import reading
from api.services.errors import Invalid, NotFound
from timeseries import InfluxClient, quote_ident, quote_string, rfc3339
from timeseries.rollup import source_for

RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30),
          "365d": timedelta(days=365)}


@dataclass(frozen=True)
class Chart:
    select: str  # aggregates over the rollup's same-named fields
    where: str  # which nodes: by the counter only their role has (as the dashboards)
    unit: str


CHARTS = {
    "heating": Chart('mean("t_flow") AS "flow", mean("t_return") AS "return", mean(/^t_zone/)',
                     '"burn_s" >= 0', "°C"),
    "power": Chart('mean("w") AS "power"', '"pulses" >= 0', "W"),
}


def chart_query(chart: Chart, site: str, policy: str, bucket: timedelta, start: datetime,
                end: datetime) -> str:
    return (f"SELECT {chart.select} FROM {quote_ident(policy)}.\"telemetry\" "
            f"WHERE \"site\" = {quote_string(site)} AND {chart.where} "
            f"AND time >= '{rfc3339(start)}' AND time < '{rfc3339(end)}' "
            f'GROUP BY time({int(bucket.total_seconds())}s), "device" fill(null)')


def window(span: timedelta, bucket: timedelta, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) on bucket edges, the current bucket included."""
    step = int(bucket.total_seconds())
    seconds = int(now.timestamp())
    end = datetime.fromtimestamp(seconds - seconds % step + step, UTC)
    return end - span, end


def read_chart(reader: InfluxClient, name: str, site: str, span: timedelta,
               now: datetime) -> dict[str, Any]:
    chart = CHARTS[name]
    policy, bucket = source_for(span)
    start, end = window(span, bucket, now)
    times: list[int] = []
    series: list[dict[str, Any]] = []
    for found in reader.query(chart_query(chart, site, policy, bucket, start, end)):
        device = found.tags.get("device", "")
        columns = found.columns[1:]
        if not times:
            times = [int(row[0]) // 1000 for row in found.values]
        for k, column in enumerate(columns, start=1):
            values = [row[k] if row[k] is None else round(float(row[k]), 2)
                      for row in found.values]
            if any(v is not None for v in values):
                label = column.removeprefix("mean_")
                series.append({"label": f"{device} {label}", "values": values})
    return {"chart": name, "unit": chart.unit, "source": policy,
            "bucket_s": int(bucket.total_seconds()), "start": start.isoformat(),
            "end": end.isoformat(), "times": times, "series": series}


def chart(reader: InfluxClient | None, site: str, name: str, wanted: str,
          now: datetime | None = None) -> dict[str, Any]:
    """One chart over one of RANGES, ending now."""
    if name not in CHARTS:
        raise NotFound(f"no chart {name!r}; there are {', '.join(CHARTS)}")
    span = RANGES.get(wanted)
    if span is None:
        raise Invalid(f"range must be one of {', '.join(RANGES)}, not {wanted!r}")
    moment = now or datetime.now(UTC)
    return reading(reader, lambda r: read_chart(r, name, site, span, moment))
