"""InfluxDB 1.x (Debian's 1.6) with authentication, reachable on /write and /query."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from devservers.process import DatabaseServer, find_binary, free_port, wait_for_http


class InfluxDB(DatabaseServer):
    name = "influxdb"

    def __init__(self, workdir: Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(workdir, *args, **kwargs)
        self.rpc_port = free_port()
        self.conf_path = self.workdir / "influxdb.conf"
        self._bootstrapped = False  # the admin user and the database exist

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def prepare(self) -> None:
        d = self.workdir
        self.conf_path.write_text(
            f"""\
reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"
[meta]
  dir = "{d}/meta"
[data]
  dir = "{d}/data"
  wal-dir = "{d}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"
[coordinator]
  log-queries-after = "0s"
[retention]
  enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  auth-enabled = true
  log-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
"""
        )

    def command(self) -> list[str]:
        return [find_binary("influxd", "/usr/bin/influxd"), "-config", str(self.conf_path)]

    def after_start(self) -> None:
        wait_for_http(f"{self.url}/ping", 204, 30)
        if not self._bootstrapped:
            # With auth on, InfluxDB accepts the first admin without credentials.
            self._query(
                f"CREATE USER \"{self.user}\" WITH PASSWORD '{self.password}' WITH ALL PRIVILEGES",
                auth=False,
            )
            self._query(f'CREATE DATABASE "{self.database}"')
            self._bootstrapped = True

    def _query(self, q: str, auth: bool = True) -> dict[str, object]:
        response = httpx.post(
            f"{self.url}/query",
            params={"q": q, "db": self.database},
            auth=(self.user, self.password) if auth else None,
            timeout=30,
        )
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result

    def write(self, lines: Iterable[str], batch: int = 5000) -> int:
        """Line protocol (ms precision) in batches; returns the lines sent."""
        sent = 0
        chunk: list[str] = []
        for text in lines:
            chunk.append(text)
            if len(chunk) >= batch:
                sent += self._write(chunk)
        if chunk:
            sent += self._write(chunk)
        return sent

    def _write(self, chunk: list[str]) -> int:
        response = httpx.post(
            f"{self.url}/write",
            params={"db": self.database, "precision": "ms"},
            content="\n".join(chunk).encode(),
            auth=(self.user, self.password),
            timeout=60,
        )
        if response.status_code != 204:
            raise RuntimeError(f"InfluxDB refused a write: {response.text[:300]}")
        sent = len(chunk)
        chunk.clear()
        return sent

    def query(self, q: str) -> list[dict[str, object]]:
        """Run InfluxQL; returns the first statement's series (empty when none)."""
        body = self._query(q)
        results = body.get("results")
        assert isinstance(results, list)
        if "error" in results[0]:
            raise RuntimeError(results[0]["error"])
        series: list[dict[str, object]] = results[0].get("series", [])
        return series

    def count(self, measurement: str, field: str, where: str = "") -> int:
        clause = f" WHERE {where}" if where else ""
        series = self.query(f'SELECT count("{field}") FROM "{measurement}"{clause}')
        if not series:
            return 0
        values = series[0]["values"]
        assert isinstance(values, list)
        return int(values[0][1])

    def create_user(self, user: str, password: str, privilege: str = "ALL") -> None:
        self._query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}'")
        self._query(f'GRANT {privilege} ON "{self.database}" TO "{user}"')
