"""Fixtures for the api tests: a fresh database per test on a real SQLite file
AND a real PostgreSQL (one server per session, one new database per test),
the app with its start-up steps, and factories for logins and data."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.main import create_app, start_up
from api.models import Base, Member, User
from api.security import hash_password
from api.services.mqtt import Publisher
from api.settings import Settings
from devservers import PostgreSQL
from devservers.process import free_port
from tests.api.cdp import Browser
from timeseries import InfluxClient

SITE = "ws1"
BADGE_KEY = "7e57ba09e0000000000000000000beef"
# The master of the nodes' downlink keys (API_DOWNLINK_KEY) in the tests.
DOWNLINK_KEY = "test-downlink-master-9c41e7"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgreSQL]:
    # One server for the whole run: initdb per test would cost seconds each.
    server = PostgreSQL(tmp_path_factory.mktemp("api-postgres"))
    server.start()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.db'}"
    server: PostgreSQL = request.getfixturevalue("pg_server")
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url.rsplit("/", 1)[0] + "/" + name


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "site": SITE,
        "secret_key": "test-secret",
        "badge_hash_key": BADGE_KEY,
        "downlink_key": DOWNLINK_KEY,
        "mqtt_port": free_port(),  # nobody listens unless a test gives a broker
        "mqtt_timeout_s": 2.0,
        # Device logins on a broker only where a test gives one (tests/api/test_devices.py).
        "device_logins": "manual",
        "influx_url": f"http://127.0.0.1:{free_port()}",
        "acl_sweep_s": 3600.0,
        "counter_refresh_s": 0,
        "rollup_s": 0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Api:
    """The app under test with a login per role."""

    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def factory(self) -> Any:
        return self.client.app.state.sessionmaker  # type: ignore[attr-defined]

    def session(self) -> Session:
        session: Session = self.factory()
        return session

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=self.headers(who), **kwargs)

    def ok(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(who, method, path, **kwargs)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json()

    def add_user(self, username: str, role: str, member_code: str | None = None) -> str:
        """Creates the login directly in the database (not an API change), logs in."""
        with self.session() as session, session.begin():
            member_id = None
            if member_code is not None:
                member_id = session.scalar(select(Member.id).where(Member.code == member_code))
            session.add(
                User(
                    username=username,
                    password_hash=hash_password(f"{username}-password"),
                    role=role,
                    member_id=member_id,
                )
            )
        response = self.client.post(
            "/auth/token", json={"username": username, "password": f"{username}-password"}
        )
        assert response.status_code == 200, response.text
        self.tokens[username] = response.json()["access_token"]
        return username

    def counts(self) -> dict[str, int]:
        """Rows per table: the evidence that a refused request stored nothing."""
        with self.session() as session:
            return {
                name: session.scalar(select(func.count()).select_from(table)) or 0
                for name, table in Base.metadata.tables.items()
            }


@pytest.fixture
def make_api(database_url: str) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(
        publisher: Publisher | None = None, influx: InfluxClient | None = None, **settings: Any
    ) -> Api:
        app = create_app(
            make_settings(database_url, **settings), publisher=publisher, influx=influx
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        api = Api(client)
        api.add_user("admin", "admin")
        api.add_user("treasurer", "treasurer")
        api.add_user("coordinator", "coordinator")
        return api

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> dict[str, str]:
    """The environment `python -m api.cli` reads, aimed at the test's database."""
    env = {
        "API_DATABASE_URL": database_url,
        "API_SITE": SITE,
        "API_BADGE_HASH_KEY": BADGE_KEY,
        "API_DOWNLINK_KEY": DOWNLINK_KEY,
        "API_MQTT_PORT": str(free_port()),
        "API_MQTT_TIMEOUT_S": "1",
        "API_DEVICE_LOGINS": "manual",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    start_up(Settings()).dispose()  # the api made its database, as in use
    return env


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    """A real headless Chromium (tests/api/cdp.py), for the web pages."""
    profile = tmp_path / "chromium"
    profile.mkdir()
    chromium = Browser(profile)
    yield chromium
    chromium.close()
