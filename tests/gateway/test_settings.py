"""Configuration: environment over file over defaults; bad values stop the
gateway with a message that names them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import load_settings


def test_environment_wins_over_the_file_and_the_file_over_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('mqtt_host = "broker.lan"\nbatch_size = 800\nshared_group = "ingest"\n')
    monkeypatch.setenv("GATEWAY_BATCH_SIZE", "1200")
    monkeypatch.setenv("GATEWAY_CONFIG", str(config))
    settings = load_settings()
    assert (settings.mqtt_host, settings.batch_size) == ("broker.lan", 1200)
    assert settings.subscription == "$share/ingest/mf/+/+/+"
    assert settings.batch_interval_s == 0.2  # default


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('{"batch_size": 0}', "batch_size"),
        ('{"shared_group": "a/b"}', "shared_group"),
        ('{"mqtt_protocol": 3}', "mqtt_protocol"),
        ('{"mqtt_hots": "x"}', "mqtt_hots"),
    ],
)
def test_bad_configuration_exits_2_naming_the_field(tmp_path: Path, content: str,
                                                    named: str) -> None:
    config = tmp_path / "gateway.json"
    config.write_text(content)
    run = subprocess.run([sys.executable, "-m", "gateway", "--config", str(config)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "bad configuration" in run.stderr and named in run.stderr
