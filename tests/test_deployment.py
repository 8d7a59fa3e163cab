"""The deployment files: docker-compose.yml is valid for Compose and complete
(every service has a health check, data lives in volumes, bind mounts exist)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
EXPECTED_SERVICES = {"mosquitto", "influxdb", "grafana", "gateway", "api", "alerts"}


def _config(tmp_path: Path, env: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text(env)
    return subprocess.run(
        ["docker-compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )


def test_compose_file_validates_with_the_example_env(tmp_path: Path) -> None:
    result = _config(tmp_path, (ROOT / ".env.example").read_text())
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    result = _config(tmp_path, "")
    assert result.returncode != 0
    assert "INFLUXDB_ADMIN_PASSWORD" in result.stderr or "PASSWORD" in result.stderr


def test_every_service_is_checked_and_keeps_data_in_volumes() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert set(services) >= EXPECTED_SERVICES
    for name in EXPECTED_SERVICES - {"alerts"}:
        assert "healthcheck" in services[name], f"{name} has no health check"
    named_volumes = set(spec["volumes"])
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("./"):
                # deploy/mosquitto/passwd is made at install time by mosquitto_passwd.
                if source.endswith("/passwd"):
                    continue
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in named_volumes, f"{name} uses undeclared volume {source}"
