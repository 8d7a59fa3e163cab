"""The one HTTP client of InfluxDB's v1 API: `/write` takes line protocol,
`/query` takes InfluxQL. InfluxDB 1.x serves it natively, 2.x and 3.x as their
compatibility API. (influxdb-client's write API speaks /api/v2/write, which
1.x answers with 404, hence plain httpx.)"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from typing import Any, Literal

import httpx

from timeseries.errors import InfluxPartialWrite, InfluxRejected, InfluxUnavailable
from timeseries.settings import InfluxSettings

WRITE_PATH = "/write"
QUERY_PATH = "/query"
# A write of this many lines is a few hundred kB: InfluxDB's sweet spot.
BATCH_LINES = 5000

Epoch = Literal["ns", "u", "ms", "s", "m", "h"]


@dataclass(frozen=True)
class Series:
    """One series of a query's result; `values` rows follow `columns`."""

    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]

    @cached_property
    def rows(self) -> list[dict[str, Any]]:
        """Each row as {column: value}."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.values]


def batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for text in lines:
        chunk.append(text)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _error_text(response: httpx.Response) -> str:
    """InfluxDB's own words: `error` in 1.x (and 3.x), `message` in 2.x."""
    try:
        body = response.json()
        error = body.get("error") or body.get("message")
    except (ValueError, AttributeError):
        error = None
    return str(error) if error else response.text[:500]


class InfluxClient:
    """Writes take millisecond times. Every failure is an InfluxError:
    InfluxUnavailable (retry later), InfluxRejected (do not), or its subclass
    InfluxPartialWrite (some points of the batch were stored).
    timeseries.partial.write_sorted tells the refused lines of a batch apart."""

    def __init__(self, settings: InfluxSettings, timeout_s: float | None = None) -> None:
        self.url = settings.influx_url.rstrip("/")
        self.database = settings.influx_database
        auth = None
        if settings.influx_username:
            auth = (settings.influx_username, settings.influx_password.get_secret_value())
        self._client = httpx.Client(
            base_url=self.url, auth=auth, timeout=timeout_s or settings.influx_timeout_s
        )
        self._write_params = {"db": self.database, "precision": "ms"}

    def write(self, body: bytes, retention_policy: str = "") -> None:
        """One prebuilt batch of lines (joined by newlines), in one request; into
        the database's default retention policy, or the one named."""
        params = self._write_params
        if retention_policy:
            params = {**params, "rp": retention_policy}
        response = self._send("POST", WRITE_PATH, params=params, content=body)
        status = response.status_code
        if status == 204:
            return
        if status in (400, 422):
            # Bad line protocol or a field type conflict. InfluxDB 1.x answers
            # 400 "partial write: ..." when it stored the other points; 2.x and
            # 3.x (v1 /write) answer 422 "failure writing points to database:
            # partial write: ...". The whole error, which may quote the refused
            # lines, is the detail (timeseries.partial reads it).
            error = _error_text(response)
            if status == 422 or error.startswith("partial write"):
                raise InfluxPartialWrite(f"InfluxDB refused part of the batch: {error}", error)
            raise InfluxRejected(f"InfluxDB refused the batch: {error}", error)
        if status == 413:
            # Over the server's max-body-size: smaller batches will pass.
            raise InfluxRejected("InfluxDB refused the batch as too large",
                                 f"HTTP 413: {_error_text(response)}")
        raise self._unavailable(response)

    def write_lines(self, lines: Iterable[str], batch_lines: int = BATCH_LINES,
                    retention_policy: str = "") -> int:
        """Lines in batches of `batch_lines`, each written as it fills; returns
        the lines written (nothing is sent for none)."""
        written = 0
        for chunk in batches(lines, batch_lines):
            self.write("\n".join(chunk).encode(), retention_policy)
            written += len(chunk)
        return written

    def query(self, influxql: str, epoch: Epoch | None = "ms") -> list[Series]:
        """The first statement's series. Times are integers in `epoch` units
        (None: RFC 3339 strings)."""
        return self._series(self._query("GET", influxql, epoch))

    def query_raw(self, influxql: str, epoch: Epoch | None = "ms") -> bytes:
        """InfluxDB's answer as it came, unparsed: the floor a reference
        measurement compares the parsing query() with."""
        return self._query("GET", influxql, epoch).content

    def execute(self, influxql: str) -> list[Series]:
        """A statement that changes something (CREATE, GRANT, DROP), sent as POST."""
        return self._series(self._query("POST", influxql, None))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> InfluxClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}"
            raise InfluxUnavailable(f"InfluxDB unreachable: {detail}", detail) from exc

    @staticmethod
    def _unavailable(response: httpx.Response) -> InfluxUnavailable:
        # 401/403 and 404 (no such database) may heal: a user or database not
        # created yet. 5xx: restarting, or its cache full while compacting.
        text = response.text[:500]
        return InfluxUnavailable(f"InfluxDB answered HTTP {response.status_code}: {text}", text)

    def _query(self, method: str, influxql: str, epoch: Epoch | None) -> httpx.Response:
        params = {"db": self.database, "q": influxql}
        if epoch is not None:
            params["epoch"] = epoch
        response = self._send(method, QUERY_PATH, params=params)
        if response.status_code == 400:
            error = _error_text(response)
            raise InfluxRejected(f"InfluxDB refused the query: {error}", error)
        if response.status_code != 200:
            raise self._unavailable(response)
        return response

    @staticmethod
    def _series(response: httpx.Response) -> list[Series]:
        try:
            result = (response.json().get("results") or [{}])[0]
        except (ValueError, AttributeError, IndexError) as exc:
            raise InfluxUnavailable(f"InfluxDB answered no JSON: {response.text[:200]}") from exc
        if "error" in result:
            error = str(result["error"])
            raise InfluxRejected(f"InfluxDB refused the query: {error}", error)
        return [
            Series(s.get("name", ""), s.get("tags") or {}, s["columns"], s.get("values") or [])
            for s in result.get("series", [])
        ]
