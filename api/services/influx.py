"""InfluxQL over the v1 HTTP API (`/query`), as the data contract describes; the one
client for InfluxDB in the api and the alerts (which also write their state over `/write`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx


class InfluxError(RuntimeError):
    """InfluxDB is unreachable or refused the query."""


@dataclass(frozen=True)
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    def rows(self) -> Iterator[dict[str, Any]]:
        for row in self.values:
            yield dict(zip(self.columns, row, strict=True))


def quote_string(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class InfluxReader:
    def __init__(
        self, url: str, database: str, username: str = "", password: str = "", timeout_s: float = 60
    ) -> None:
        self.database = database
        auth = (username, password) if username else None
        self._client = httpx.Client(base_url=url, auth=auth, timeout=timeout_s)

    def query(self, influxql: str) -> list[Series]:
        """One statement; times come back as Unix milliseconds."""
        try:
            response = self._client.get(
                "/query", params={"db": self.database, "q": influxql, "epoch": "ms"}
            )
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB unreachable: {exc}") from exc
        if response.status_code != 200:
            raise InfluxError(f"InfluxDB answered {response.status_code}: {response.text[:200]}")
        body = response.json()
        result = (body.get("results") or [{}])[0]
        if "error" in result:
            raise InfluxError(f"InfluxDB refused the query: {result['error']}")
        return [
            Series(s.get("name", ""), s.get("tags") or {}, s["columns"], s.get("values") or [])
            for s in result.get("series", [])
        ]

    def write(self, lines: list[str], retention_policy: str = "") -> None:
        """Line protocol with millisecond times (into the default policy, or the one named)."""
        if not lines:
            return
        params = {"db": self.database, "precision": "ms"}
        if retention_policy:
            params["rp"] = retention_policy
        try:
            response = self._client.post(
                "/write",
                params=params,
                content="\n".join(lines).encode(),
            )
        except httpx.HTTPError as exc:
            raise InfluxError(f"InfluxDB unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise InfluxError(f"InfluxDB refused the write: {response.text[:300]}")

    def close(self) -> None:
        self._client.close()
