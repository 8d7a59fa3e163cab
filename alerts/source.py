"""InfluxDB for the alerts: the api's InfluxQL client, with each series' rows as dicts."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.findings import Row
from api.services.influx import InfluxError, InfluxReader, quote_string

__all__ = ["InfluxError", "InfluxSource", "Series", "quote_ident", "quote_string", "time_range"]


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
        self._reader = InfluxReader(url, database, username, password, timeout)

    def close(self) -> None:
        self._reader.close()

    def write(self, lines: list[str]) -> None:
        """Line protocol with millisecond times; raises InfluxError."""
        self._reader.write(lines)

    def query(self, influxql: str) -> list[Series]:
        """Run one statement; rows come back with "time" in Unix milliseconds."""
        return [
            Series(series.name, dict(series.tags), list(series.rows()))
            for series in self._reader.query(influxql)
        ]


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def time_range(since_ms: int, until_ms: int) -> str:
    """Both bounds explicit, so that an evaluation at a given `now` sees what it saw then."""
    return f"time > {int(since_ms)}ms AND time <= {int(until_ms)}ms"
