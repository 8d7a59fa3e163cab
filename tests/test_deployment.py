"""The deployment files: docker-compose.yml is valid for Compose and complete
(every service has a health check, data lives in volumes, bind mounts exist),
and every service variable they set is a setting the service reads."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values
from pydantic import ValidationError

from alerts.settings import Settings as AlertsSettings
from api.settings import Settings as ApiSettings
from broker import MqttSettings
from deploy.bootstrap import GENERATED
from gateway.settings import Settings as GatewaySettings
from protocol import wire
from tests.deploy.site import make_site
from timeseries import InfluxSettings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
EXPECTED_SERVICES = {"mosquitto", "influxdb", "grafana", "gateway", "api", "alerts"}


def _config(site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker-compose", "config", "-q"], cwd=site, capture_output=True, text=True,
        timeout=60,
    )


def _bootstrapped(folder: Path) -> Path:
    """A site made as the README says: .env from the example with secrets, bootstrap run."""
    site = make_site(folder)
    made = subprocess.run([sys.executable, "-m", "deploy.bootstrap", "--root", str(site)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert made.returncode == 0, made.stderr
    return site


def test_compose_file_validates_for_a_bootstrapped_site(tmp_path: Path) -> None:
    result = _config(_bootstrapped(tmp_path / "site"))
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    site = _bootstrapped(tmp_path / "site")
    (site / ".env").write_text("")  # the generated files are still there
    result = _config(site)
    assert result.returncode != 0
    assert "PASSWORD" in result.stderr


def test_every_service_is_checked_and_keeps_data_in_volumes() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert set(services) >= EXPECTED_SERVICES
    for name, service in services.items():
        if service.get("restart") != "no" and not service.get("profiles"):  # runs for good
            assert "healthcheck" in service, f"{name} has no health check"
    named_volumes = set(spec["volumes"])
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                # deploy/generated/ is made by the bootstrap, from the site's .env.
                if source.startswith(f"./{GENERATED}/"):
                    continue
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in named_volumes, f"{name} uses undeclared volume {source}"


SERVICES: dict[str, type[MqttSettings]] = {
    "GATEWAY_": GatewaySettings, "API_": ApiSettings, "ALERTS_": AlertsSettings,
}


def deployment_variables() -> set[str]:
    """The service variables that .env.example, docker-compose.yml and the local
    stack (devservers/stack.py) set."""
    names = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    for service in yaml.safe_load(COMPOSE.read_text())["services"].values():
        names |= set(service.get("environment", {}))
    stack = ast.parse((ROOT / "devservers" / "stack.py").read_text())
    names |= {node.value for node in ast.walk(stack)
              if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    return {name for name in names if re.fullmatch(r"(GATEWAY|API|ALERTS)_[A-Z0-9_]+", name)}


def test_every_service_variable_of_the_deployment_is_a_setting() -> None:
    names = deployment_variables()
    assert {"GATEWAY_INFLUX_PASSWORD", "API_MQTT_USERNAME", "ALERTS_MQTT_PASSWORD"} <= names
    for name in sorted(names):
        prefix = name.split("_", 1)[0] + "_"
        assert name[len(prefix):].lower() in SERVICES[prefix].model_fields, name


def test_each_service_reads_the_one_connection_definition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for prefix, settings_class in SERVICES.items():
        monkeypatch.setenv(f"{prefix}MQTT_PASSWORD", "mqtt-secret")
        monkeypatch.setenv(f"{prefix}INFLUX_PASSWORD", "influx-secret")
        monkeypatch.setenv(f"{prefix}MQTT_PORT", "1884")
        settings = settings_class()
        assert isinstance(settings, MqttSettings) and isinstance(settings, InfluxSettings)
        assert settings.mqtt_port == 1884
        assert settings.mqtt_password.get_secret_value() == "mqtt-secret"
        assert settings.influx_password.get_secret_value() == "influx-secret"
        assert "mqtt-secret" not in repr(settings) and "influx-secret" not in repr(settings)
        monkeypatch.setenv(f"{prefix}MQTT_PORT", "0")
        with pytest.raises(ValidationError, match="mqtt_port"):
            settings_class()


def test_the_example_nodes_reach_the_broker_where_the_lan_can() -> None:
    """The api writes API_NODE_MQTT_PORT into every node's config, with TLS (it
    reaches the broker over TLS): it must be the broker's TLS listener that
    Compose publishes, not the plain one on the container's loopback, or no
    node flashed with a config made from the example ever connects."""
    port = dotenv_values(ROOT / ".env.example")["API_NODE_MQTT_PORT"]
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    assert compose["api"]["environment"]["API_MQTT_TLS"] == "true"
    published = {str(p).split(":")[0] for p in compose["mosquitto"]["ports"]}
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    listeners = re.findall(r"^listener (\d+)[ \t]*(\S*)\n(certfile)?", conf, re.M)
    lan_tls = {number for number, bind, cert in listeners if not bind and cert}
    assert lan_tls == {"8883"}, listeners
    assert port in lan_tls & published, (port, published)


def test_the_image_gets_no_secret() -> None:
    """The Dockerfile copies deploy/; what the bootstrap makes there from the
    secrets, and .env itself, stay out of the build context."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip().rstrip("/") for line in lines if line.strip() and line[0] != "#"}
    assert {".env", str(GENERATED)} <= ignored
    assert "COPY deploy deploy" in (ROOT / "Dockerfile").read_text()


def test_the_shipped_broker_limits_messages_to_the_largest_legal_one() -> None:
    """Mosquitto drops a larger publish before any subscriber (the gateway)
    sees it; tests/broker/test_message_size.py shows it on a real broker."""
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    limits = re.findall(r"^message_size_limit\s+(\d+)\s*$", conf, re.M)
    assert limits == [str(wire.MAX_MESSAGE)]
    assert wire.MAX_MESSAGE == wire.MAX_ACL_PAYLOAD >= wire.MAX_PAYLOAD
