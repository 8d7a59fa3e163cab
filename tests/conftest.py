"""Real servers for the tests: each test that asks for one gets its own
process on a free loopback port in its own temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from broker import PasswordHash
from broker.accounts import SERVICE_LOGINS, client
from devservers import InfluxDB, Mosquitto, PostgreSQL, SiteMosquitto, site_accounts

GATEWAY_USER, GATEWAY_PASSWORD = "gateway", "gateway-secret"
API_USER, API_PASSWORD = "api", "api-secret"
TEST_USER, TEST_PASSWORD = "tester", "tester-secret"
DEVICE_PASSWORD = "device-secret"
DEVICES = tuple(f"node{i}" for i in range(1, 9))

# The site broker (dynamic security, the shipped configuration): its site, the
# service logins' passwords, and a test-only login that reads every topic.
SITE_BROKER_SITE = "ws1"
SERVICE_PASSWORDS = {login: f"{login}-secret" for login in SERVICE_LOGINS}
OBSERVER, OBSERVER_PASSWORD = "observer", "observer-secret"
OBSERVER_ACCOUNT = {
    "clients": [client(OBSERVER, PasswordHash.of(OBSERVER_PASSWORD), [OBSERVER])],
    "roles": [{"rolename": OBSERVER, "acls": [
        {"acltype": kind, "topic": "#", "allow": True}
        for kind in ("subscribePattern", "publishClientReceive")
    ]}],
}


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    users = {GATEWAY_USER: GATEWAY_PASSWORD, API_USER: API_PASSWORD, TEST_USER: TEST_PASSWORD}
    users.update({device: DEVICE_PASSWORD for device in DEVICES})
    broker = Mosquitto(
        tmp_path / "mosquitto", users, superusers=(GATEWAY_USER, API_USER, TEST_USER)
    )
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def site_mosquitto(tmp_path: Path) -> Iterator[SiteMosquitto]:
    """The shipped broker configuration with the service logins, the observer
    and the devices node1..node8 (password DEVICE_PASSWORD) of SITE_BROKER_SITE."""
    devices = dict.fromkeys(DEVICES, DEVICE_PASSWORD)
    accounts = site_accounts(SITE_BROKER_SITE, SERVICE_PASSWORDS, devices, OBSERVER_ACCOUNT)
    broker = SiteMosquitto(
        tmp_path / "site-mosquitto",
        {**SERVICE_PASSWORDS, **devices, OBSERVER: OBSERVER_PASSWORD},
        accounts,
    )
    broker.start()
    yield broker
    broker.close()


@pytest.fixture
def influxdb(tmp_path: Path) -> Iterator[InfluxDB]:
    server = InfluxDB(tmp_path / "influxdb")
    server.start()
    yield server
    server.close()


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[PostgreSQL]:
    server = PostgreSQL(tmp_path / "postgres")
    server.start()
    yield server
    server.close()
