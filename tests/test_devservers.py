"""The test servers are real and locked down: anonymous clients are refused."""

from __future__ import annotations

import subprocess

import httpx
import psycopg

from devservers import InfluxDB, Mosquitto, PostgreSQL
from tests.conftest import TEST_PASSWORD, TEST_USER


def _publish(broker: Mosquitto, *auth: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), *auth,
         "-t", "mf/site/node1/telemetry", "-m", "x", "-q", "1"],
        capture_output=True, text=True, timeout=10,
    )


def test_broker_refuses_anonymous_publish(mosquitto: Mosquitto) -> None:
    refused = _publish(mosquitto)
    assert refused.returncode != 0
    assert "not authorised" in refused.stderr.lower()
    accepted = _publish(mosquitto, "-u", TEST_USER, "-P", TEST_PASSWORD)
    assert accepted.returncode == 0, accepted.stderr


def test_influxdb_requires_credentials_and_survives_kill(influxdb: InfluxDB) -> None:
    line = b"probe,device=a wh=1i 1764000000000"
    anonymous = httpx.post(f"{influxdb.url}/write", params={"db": influxdb.database}, content=line)
    assert anonymous.status_code == 401
    ok = httpx.post(
        f"{influxdb.url}/write",
        params={"db": influxdb.database, "precision": "ms"},
        auth=(influxdb.user, influxdb.password),
        content=line,
    )
    assert ok.status_code == 204
    influxdb.kill()
    influxdb.start()
    assert influxdb.count("probe", "wh") == 1


def test_postgres_needs_password(postgres: PostgreSQL) -> None:
    with psycopg.connect(
        host=postgres.host, port=postgres.port, user=postgres.user,
        password=postgres.password, dbname=postgres.database,
    ) as conn:
        assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
    try:
        psycopg.connect(
            host=postgres.host, port=postgres.port, user=postgres.user,
            password="wrong", dbname=postgres.database,
        )
    except psycopg.OperationalError as exc:
        assert "password authentication failed" in str(exc)
    else:
        raise AssertionError("PostgreSQL accepted a wrong password")
