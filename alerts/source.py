"""InfluxQL over the v1 HTTP API (`/query`): the only code that talks to InfluxDB."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from alerts.findings import Row


class SourceError(RuntimeError):
    """InfluxDB refused the query or could not be reached."""


@dataclass(frozen=True)
class Series:
    measurement: str
    tags: dict[str, str]
    rows: list[Row]


class InfluxSource:
    def __init__(
        self, url: str, database: str, username: str = "", password: str = "",
        timeout: float = 30.0,
    ) -> None:
        self.database = database
        auth = (username, password) if username else None
        self._client = httpx.Client(base_url=url, auth=auth, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def write(self, lines: list[str]) -> None:
        """Line protocol with millisecond times."""
        if not lines:
            return
        try:
            response = self._client.post(
                "/write", params={"db": self.database, "precision": "ms"},
                content="\n".join(lines).encode(),
            )
        except httpx.HTTPError as exc:
            raise SourceError(f"InfluxDB unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise SourceError(f"InfluxDB refused the write: {response.text[:300]}")

    def query(self, influxql: str) -> list[Series]:
        """Run one statement; rows come back with "time" in Unix milliseconds."""
        try:
            response = self._client.post(
                "/query", data={"q": influxql, "db": self.database, "epoch": "ms"}
            )
        except httpx.HTTPError as exc:
            raise SourceError(f"InfluxDB unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise SourceError(f"InfluxDB answered {response.status_code}: {response.text[:300]}")
        return parse_results(response.json())


def parse_results(body: dict[str, Any]) -> list[Series]:
    results = body.get("results") or [{}]
    first = results[0]
    if "error" in first:
        raise SourceError(f"InfluxQL error: {first['error']}")
    out: list[Series] = []
    for series in first.get("series", []):
        columns: list[str] = series["columns"]
        rows = [dict(zip(columns, values, strict=True)) for values in series.get("values", [])]
        out.append(Series(series.get("name", ""), dict(series.get("tags") or {}), rows))
    return out


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def time_range(since_ms: int, until_ms: int) -> str:
    """Both bounds explicit, so that an evaluation at a given `now` sees what it saw then."""
    return f"time > {int(since_ms)}ms AND time <= {int(until_ms)}ms"
