"""Real servers for the tests: each test that asks for one gets its own
process on a free loopback port in its own temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devservers import InfluxDB, Mosquitto, PostgreSQL

GATEWAY_USER, GATEWAY_PASSWORD = "gateway", "gateway-secret"
API_USER, API_PASSWORD = "api", "api-secret"
TEST_USER, TEST_PASSWORD = "tester", "tester-secret"
DEVICE_PASSWORD = "device-secret"
DEVICES = tuple(f"node{i}" for i in range(1, 9))


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
