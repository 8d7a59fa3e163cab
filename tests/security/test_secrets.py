"""Each container gets only its own secrets: read from docker-compose.yml as
Compose resolves it for a site made as the README says (`.env` with real
secrets, the bootstrap run), env files merged into each service's
environment. A service taken over (the gateway parses untrusted device
input) must not hold the api's secret key, the badge key, another service's
password or the InfluxDB admin, nor mount them."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from dotenv import dotenv_values

from broker.accounts import ALERTS, API, GATEWAY
from deploy import influx_init
from deploy.bootstrap import CA_KEY, ENV_DIR, REQUIRED
from devservers.compose import resolved_config
from tests.deploy.site import ROOT, make_site

# Whose secret each .env variable is (the services' own prefixes, and the rest).
OWNER = {
    "GATEWAY_": {"gateway"}, "API_": {"api"}, "ALERTS_": {"alerts"},
    "MOSQUITTO_HEALTH_PASSWORD": {"mosquitto"},
    "INFLUXDB_ADMIN_PASSWORD": {"influxdb", "influxdb-init"},
    "GRAFANA_ADMIN_PASSWORD": {"grafana"},
    "GRAFANA_INFLUX_PASSWORD": {"grafana", "influxdb-init"},
}
# influxdb-init sets every service's InfluxDB password (and holds the admin).
INIT_HOLDS = {influx_init.password_variable(user) for user in influx_init.GRANTS}


def _owners(variable: str) -> set[str]:
    owners = OWNER.get(variable) or next(
        (who for prefix, who in OWNER.items() if variable.startswith(prefix)), set())
    return owners | ({"influxdb-init"} if variable in INIT_HOLDS else set())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, str]]:
    folder = make_site(tmp_path_factory.mktemp("site") / "site")
    made = subprocess.run([sys.executable, "-m", "deploy.bootstrap"], cwd=folder,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    env = {k: v or "" for k, v in dotenv_values(folder / ".env").items()}
    return resolved_config(folder), env


def _secrets(env: dict[str, str]) -> dict[str, str]:
    names = [name for name in REQUIRED if name not in ("API_SITE", "SERVER_NAMES")]
    assert {"API_SECRET_KEY", "API_BADGE_HASH_KEY", "GATEWAY_MQTT_PASSWORD"} <= set(names)
    return {name: env[name] for name in names}


def test_no_container_holds_a_secret_of_another(
    site: tuple[dict[str, Any], dict[str, str]],
) -> None:
    config, env = site
    secrets = _secrets(env)
    held: dict[str, set[str]] = {}
    for service, spec in config["services"].items():
        text = "\n".join([*(str(v) for v in (spec.get("environment") or {}).values()),
                          *(str(a) for a in spec.get("command") or [])])
        held[service] = {name for name, value in secrets.items() if value in text}
    for service, names in held.items():
        strangers = {name for name in names if service not in _owners(name)}
        assert not strangers, f"{service} holds {sorted(strangers)}"
    # What each service's own work needs is there (the test can fail).
    assert {"API_SECRET_KEY", "API_BADGE_HASH_KEY", "API_MQTT_PASSWORD",
            "API_INFLUX_PASSWORD"} <= held["api"]
    assert held["gateway"] == {"GATEWAY_MQTT_PASSWORD", "GATEWAY_INFLUX_PASSWORD"}
    assert held["alerts"] == {"ALERTS_MQTT_PASSWORD", "ALERTS_INFLUX_PASSWORD"}
    assert held["caddy"] == set() and held["mosquitto-init"] == set()


def test_no_container_mounts_the_secrets_folder_or_the_ca_key(
    site: tuple[dict[str, Any], dict[str, str]],
) -> None:
    config, _ = site
    for service, spec in config["services"].items():
        for mount in spec.get("volumes", []):
            source = str(mount.split(":")[0] if isinstance(mount, str) else mount["source"])
            assert not source.endswith("/.env"), (service, source)
            assert f"/{ENV_DIR}" not in source, (service, source)
            assert not source.endswith(str(CA_KEY)) and not source.endswith("/tls"), (
                service, source)


def test_each_service_logs_in_as_itself(site: tuple[dict[str, Any], dict[str, str]]) -> None:
    config, _ = site
    services = config["services"]
    for login, prefix in ((GATEWAY, "GATEWAY_"), (API, "API_"), (ALERTS, "ALERTS_")):
        environment = services[login]["environment"]
        assert environment[f"{prefix}MQTT_USERNAME"] == login
        assert environment[f"{prefix}INFLUX_USERNAME"] == login
        assert login in influx_init.GRANTS
        assert environment[f"{prefix}MQTT_TLS"] == "true"
        assert environment[f"{prefix}MQTT_PORT"] == "8883"
    provisioning = (ROOT / "dashboards" / "provisioning" / "datasources" / "influxdb.yaml")
    assert "user: grafana\n" in provisioning.read_text()
    assert "grafana" in influx_init.GRANTS
    assert influx_init.GRANTS["grafana"] == {influx_init.SITE: influx_init.READ,
                                             influx_init.ALERTS: influx_init.READ}
    ports = {service: spec.get("ports", []) for service, spec in services.items()}
    published = {service for service, listed in ports.items() if listed}
    assert published == {"mosquitto", "caddy"}  # the api and Grafana only through HTTPS
    assert [p["target"] for p in ports["mosquitto"]] == [8883]

