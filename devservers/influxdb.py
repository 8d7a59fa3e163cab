"""InfluxDB 1.x (Debian's 1.6) with authentication, spoken to through the
project's own client (timeseries)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from devservers.process import DatabaseServer, find_binary, free_port, wait_for_http
from timeseries import (
    InfluxClient,
    InfluxSettings,
    Series,
    alerts_database,
    quote_ident,
    quote_string,
)


class InfluxDB(DatabaseServer):
    """With the site's database and, unless `alerts_db` is false, the alerts'
    own beside it (as deploy/influx_init.py leaves a site; a compose run leaves
    that to it)."""

    name = "influxdb"

    def __init__(self, workdir: Path, *args: Any, alerts_db: bool = True, **kwargs: Any) -> None:
        super().__init__(workdir, *args, **kwargs)
        self.alerts_db = alerts_db
        self.rpc_port = free_port()
        self.conf_path = self.workdir / "influxdb.conf"
        # The admin user and the database exist (a restart on kept data: make run).
        self._bootstrapped = (self.workdir / "meta" / "meta.db").exists()

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

    @property
    def alerts_database(self) -> str:
        return alerts_database(self.database)

    @property
    def settings(self) -> InfluxSettings:
        """How the project's services reach this server (as its admin)."""
        return InfluxSettings(
            influx_url=self.url, influx_database=self.database,
            influx_username=self.user, influx_password=SecretStr(self.password),
        )

    def client(self, timeout_s: float | None = None, database: str = "") -> InfluxClient:
        """As the admin, on the site's database or the one named."""
        settings = self.settings
        if database:
            settings = settings.model_copy(update={"influx_database": database})
        return InfluxClient(settings, timeout_s)

    def after_start(self) -> None:
        wait_for_http(f"{self.url}/ping", 204, 30)
        if not self._bootstrapped:
            # With auth on, InfluxDB accepts the first admin without credentials.
            anonymous = InfluxSettings(influx_url=self.url, influx_database=self.database)
            with InfluxClient(anonymous, 30) as first:
                first.execute(f"CREATE USER {quote_ident(self.user)} WITH PASSWORD "
                              f"{quote_string(self.password)} WITH ALL PRIVILEGES")
            self.execute(f"CREATE DATABASE {quote_ident(self.database)}")
            self._bootstrapped = True
        if self.alerts_db:  # also on data kept from before it existed (make run)
            self.execute(f"CREATE DATABASE {quote_ident(self.alerts_database)}")

    def execute(self, q: str) -> None:
        """An InfluxQL statement that changes something (CREATE, GRANT, DROP)."""
        with self.client(30) as client:
            client.execute(q)

    def write(self, lines: Iterable[str], batch: int = 5000) -> int:
        """Line protocol (ms precision) in batches; returns the lines sent."""
        with self.client(60) as client:
            return client.write_lines(lines, batch)

    def query(self, q: str, database: str = "") -> list[Series]:
        """Run InfluxQL on the site's database (or the one named); the first
        statement's series (times as RFC 3339 strings)."""
        with self.client(30, database) as client:
            return client.query(q, epoch=None)

    def count(self, measurement: str, field: str, where: str = "", database: str = "") -> int:
        clause = f" WHERE {where}" if where else ""
        series = self.query(f"SELECT count({quote_ident(field)}) FROM {quote_ident(measurement)}"
                            f"{clause}", database)
        return int(series[0].values[0][1]) if series else 0

    def create_user(self, user: str, password: str, privilege: str = "ALL") -> None:
        self.execute(f"CREATE USER {quote_ident(user)} WITH PASSWORD {quote_string(password)}")
        self.execute(f"GRANT {privilege} ON {quote_ident(self.database)} TO {quote_ident(user)}")
