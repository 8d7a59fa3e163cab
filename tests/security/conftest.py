"""The api as a real process (`python -m api`, uvicorn) on a real SQLite file or
PostgreSQL database, logins made straight in that database, and a probe process that
keeps asking the api for other things while a test attacks it."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from api.db import make_engine
from api.models import User
from api.security import hash_password
from devservers import SiteMosquitto
from devservers.process import free_port
from devservers.stack import ApiProcess
from tests.api.conftest import (  # noqa: F401 (fixtures shared with tests/api)
    BADGE_KEY,
    SITE,
    browser,
    database_url,
    make_api,
    pg_server,
)
from tests.broker.probe import Probe as MqttProbe
from tests.conftest import OBSERVER

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServedApi:
    process: ApiProcess
    database_url: str

    @property
    def url(self) -> str:
        return f"http://{self.process.host}:{self.process.port}"

    def add_user(self, username: str, role: str = "member", active: bool = True) -> str:
        """A login written straight into the database; returns its password."""
        password = f"{username}-right-password"
        engine = make_engine(self.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(User).values(
                        username=username,
                        password_hash=hash_password(password),
                        role=role,
                        active=active,
                    )
                )
        finally:
            engine.dispose()
        return password

    def login(
        self, username: str, password: str, client: httpx.Client | None = None
    ) -> httpx.Response:
        body = {"username": username, "password": password}
        if client is not None:
            return client.post("/auth/token", json=body)
        return httpx.post(self.url + "/auth/token", json=body, timeout=30)

    def token(self, username: str, password: str) -> str:
        response = self.login(username, password)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def memory_kib(self, field: str = "VmHWM") -> int:
        """The server's resident memory (VmRSS) or its peak so far (VmHWM), KiB."""
        assert self.process.proc is not None
        for line in Path(f"/proc/{self.process.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} for the api process")


@pytest.fixture
def serve_api(tmp_path: Path, database_url: str) -> Iterator[Callable[..., ServedApi]]:  # noqa: F811
    """Starts `python -m api` with test settings plus `API_*` overrides."""
    started: list[ApiProcess] = []

    def serve(**overrides: str) -> ServedApi:
        env = {
            "API_DATABASE_URL": database_url,
            "API_SITE": SITE,
            "API_SECRET_KEY": "test-secret",
            "API_BADGE_HASH_KEY": BADGE_KEY,
            "API_MQTT_PORT": str(free_port()),  # nobody listens: no broker needed here
            "API_INFLUX_URL": f"http://127.0.0.1:{free_port()}",
            "API_ACL_SWEEP_S": "3600",
            "API_COUNTER_REFRESH_S": "0",
            **overrides,
        }
        process = ApiProcess(tmp_path / f"api{len(started)}", env, free_port())
        started.append(process)
        process.start(timeout=60)
        return ServedApi(process, database_url)

    yield serve
    for process in started:
        process.close()


class Probe:
    """tests/security/probe.py in its own process while a test attacks the api."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.latencies: list[float] = []
        self.failures: list[str] = []

    def __enter__(self) -> Probe:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.security.probe", self.url, self.token],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(0.5)  # it is asking before the attack starts
        return self

    def __exit__(self, *_: object) -> None:
        out, _err = self._proc.communicate("stop\n", timeout=60)
        report = json.loads(out)
        self.latencies, self.failures = report["latencies"], report["failures"]
        assert self.latencies, "the probe got no answer at all"

    @property
    def worst(self) -> float:
        return max(self.latencies)

    def summary(self) -> str:
        return (
            f"{len(self.latencies)} answers, median {statistics.median(self.latencies):.3f} s, "
            f"worst {self.worst:.3f} s"
        )


@pytest.fixture
def observer(site_mosquitto: SiteMosquitto) -> Iterator[MqttProbe]:
    """Reads every topic of the site broker over TLS, to show what a refused
    publish did not deliver."""
    with MqttProbe(site_mosquitto.tls_login(OBSERVER)) as probe:
        assert probe.connect().value == 0
        assert probe.subscribe("#")
        yield probe
