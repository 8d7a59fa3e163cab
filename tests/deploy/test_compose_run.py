"""The shipped deployment, run. No Docker engine here, so docker-compose.yml's
services run as processes (devservers.compose) from a site folder made as the
README says: `.env` from .env.example with real secrets, `python -m
deploy.bootstrap`, then every service in Compose's order with the environment
Compose gives its container. Every health check passes as Compose runs it;
the broker's runs with its own login, which reads `$SYS` and nothing else.
Then the site is used: the first admin login made as the README says, over
HTTPS through Caddy with the site CA's certificate; a device added through the
api logs in at once over TLS, its reading goes through the gateway (also over
TLS) into InfluxDB, it cannot write as another device, and a restart of the
broker (mosquitto-init running again) keeps its login. The alerts' InfluxDB
login writes its own database and cannot write the site's."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from alerts.settings import Settings as AlertSettings
from broker import MqttSettings
from deploy.bootstrap import BROKER_SEED, CA_CERT
from devservers.compose import LOOPBACK, ComposeRun
from protocol import wire
from tests.broker.probe import Probe
from tests.deploy.site import ROOT, env_value, make_site
from timeseries import InfluxClient, InfluxError, InfluxSettings, alerts_database

LONG_RUNNING = {"mosquitto", "influxdb", "gateway", "api", "alerts", "caddy"}
ONE_SHOT = {"mosquitto-init", "influxdb-init"}


def _login(run: ComposeRun, user: str, password: str) -> MqttSettings:
    """As a node or a service logs in: TLS on 8883, trusting the site CA only."""
    return MqttSettings(mqtt_host=LOOPBACK, mqtt_port=run.port("mosquitto", 8883),
                        mqtt_username=user, mqtt_password=SecretStr(password),
                        mqtt_tls=True, mqtt_tls_ca_file=str(run.project / CA_CERT))


def _local_tool(run: ComposeRun, user: str, password: str) -> MqttSettings:
    """As a tool inside the broker's container: plain MQTT on its loopback."""
    return MqttSettings(mqtt_host=LOOPBACK, mqtt_port=run.port("mosquitto", 1883),
                        mqtt_username=user, mqtt_password=SecretStr(password))


def _telemetry_count(run: ComposeRun, device: str) -> int:
    env = run.environment("influxdb")
    settings = InfluxSettings(
        influx_url=f"http://{LOOPBACK}:{run.port('influxdb', 8086)}",
        influx_database=env["INFLUXDB_DB"], influx_username=env["INFLUXDB_ADMIN_USER"],
        influx_password=SecretStr(env["INFLUXDB_ADMIN_PASSWORD"]),
    )
    with InfluxClient(settings) as client:
        series = client.query(f"SELECT count(\"seq\") FROM \"telemetry\" "
                              f"WHERE \"device\" = '{device}'")
    return int(series[0].values[0][1]) if series else 0


def _wait_count(run: ComposeRun, device: str, expected: int) -> None:
    deadline = time.monotonic() + 30
    while (count := _telemetry_count(run, device)) < expected:
        assert time.monotonic() < deadline, f"{count} of {expected} readings in InfluxDB"
        time.sleep(0.2)
    assert count == expected


def _the_alerts_write_only_their_own_database(run: ComposeRun,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """influxdb-init made the alerts' database beside the site's, and the
    alerts' settings as their container gets them reach it: their alert
    states go in, a forged reading into the site's database does not."""
    with monkeypatch.context() as env:
        for name, value in run.process_env("alerts").items():
            env.setenv(name, value)
        settings = AlertSettings()
    assert settings.influx_username == "alerts"
    site_db, own_db = settings.influx_database, settings.influx_alerts_database
    assert own_db == alerts_database(site_db)
    with InfluxClient(settings) as site, InfluxClient(settings.timeline_settings()) as own:
        assert site.query("SHOW MEASUREMENTS") == []  # it may read (nothing stored yet)
        with pytest.raises(InfluxError, match="403"):
            site.write(b"telemetry,site=x,device=forged wh=1i")
        own.write_lines(["alert,kind=probe,key=probe open=0i"])
        assert own.query('SELECT count("open") FROM "alert"')[0].values[0][1] == 1


def test_the_shipped_deployment_runs_and_every_health_check_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = make_site(tmp_path / "site")
    made = subprocess.run([sys.executable, "-m", "deploy.bootstrap"], cwd=site,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and (site / BROKER_SEED).exists(), made.stderr
    site_name = env_value(site, "API_SITE")
    with ComposeRun(site, tmp_path / "run", skip=("grafana",)) as run:
        assert set(run.services) == {*ONE_SHOT, *LONG_RUNNING}
        run.start()
        checked = {name: run.wait_healthy(name, 120).returncode
                   for name, spec in run.services.items() if "healthcheck" in spec}
        assert checked == dict.fromkeys(LONG_RUNNING, 0)
        assert set(run.running()) == LONG_RUNNING  # the one-shot services ran and exited

        # The health check fails without its login's right to $SYS (the gateway's
        # login, as before, is refused it), and that login reads nothing else.
        as_gateway = {"MQTT_HEALTH_USER": "gateway",
                      "MQTT_HEALTH_PASSWORD": env_value(site, "GATEWAY_MQTT_PASSWORD")}
        assert run.healthcheck("mosquitto", as_gateway).returncode != 0
        health = _local_tool(run, "health", env_value(site, "MOSQUITTO_HEALTH_PASSWORD"))
        with Probe(health) as probe:
            assert probe.connect().value == 0
            assert probe.subscribe("$SYS/broker/uptime")
            assert not probe.subscribe("mf/#") and not probe.subscribe("#")
            assert not probe.publish(wire.topic(site_name, "x", "telemetry"))
        gateway_metrics = httpx.get(f"http://{LOOPBACK}:{run.port('gateway', 9108)}/metrics")
        assert "gateway_subscribed 1.0" in gateway_metrics.text
        _the_alerts_write_only_their_own_database(run, monkeypatch)

        # The first admin login, as the README says (`docker compose run --rm api ...`).
        created = subprocess.run(
            [sys.executable, "-m", "api.cli", "create-user", "admin", "--role", "admin",
             "--password", "first-admin-password"],
            env=run.process_env("api"), cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert created.returncode == 0, created.stderr
        # The LAN reaches the api through Caddy only, over HTTPS with the
        # certificate the site CA signed ("localhost" among its names).
        site_ca = ssl.create_default_context(cafile=site / CA_CERT)
        api = httpx.Client(base_url=f"https://localhost:{run.port('caddy', 443)}",
                           verify=site_ca, timeout=30)
        assert api.get("/health").status_code == 200
        plain = httpx.get(f"http://{LOOPBACK}:{run.port('caddy', 80)}/health")
        assert plain.status_code == 301 and plain.headers["location"].startswith("https://")
        with httpx.Client(verify=ssl.create_default_context()) as untrusting:
            try:
                untrusting.get(f"https://localhost:{run.port('caddy', 443)}/health")
                raise AssertionError("a client without the site CA trusted the certificate")
            except httpx.ConnectError as exc:
                assert "CERTIFICATE_VERIFY_FAILED" in str(exc)
        token = api.post("/auth/token", json={"username": "admin",
                                              "password": "first-admin-password"})
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        device = api.post("/devices", json={"name": "boiler-node", "role": "heating"})
        assert device.status_code == 201, device.text
        password = device.json()["mqtt_password"]

        now = int(time.time() * 1000)
        mine = wire.topic(site_name, "boiler-node", "telemetry")
        with Probe(_login(run, "boiler-node", password), "boiler-node") as node:
            assert node.connect().value == 0  # at once: no broker restart
            for seq in range(3):
                reading = wire.telemetry(seq, now + seq, {"wh": seq}, {"flow_c": 60.0})
                assert node.publish(mine, wire.encode("telemetry", reading))
            forged = wire.encode("telemetry", wire.telemetry(9, now, {"wh": 9}, {}))
            assert not node.publish(wire.topic(site_name, "other-node", "telemetry"), forged)
        _wait_count(run, "boiler-node", 3)
        assert _telemetry_count(run, "other-node") == 0

        # Restarted as `docker compose up` would: mosquitto-init runs again over
        # the broker's file; the device's login (added by the api) stays.
        run.restart("mosquitto")
        assert run.wait_healthy("mosquitto", 60).returncode == 0
        assert run.log("mosquitto-init").splitlines()[-1].endswith(" unchanged")
        with Probe(_login(run, "boiler-node", password), "boiler-node") as node:
            assert node.connect().value == 0
            late = wire.telemetry(3, now + 3, {"wh": 3}, {"flow_c": 61.0})
            assert node.publish(mine, wire.encode("telemetry", late))
        _wait_count(run, "boiler-node", 4)  # the gateway came back by itself
        retired = api.delete(f"/devices/{device.json()['id']}")
        assert retired.status_code == 200, retired.text
        assert Probe(_login(run, "boiler-node", password)).connect().is_failure
        assert set(run.running()) == LONG_RUNNING
