"""Gateway configuration: environment (prefix GATEWAY_) over an optional TOML or
JSON file (`--config` or GATEWAY_CONFIG) over defaults."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker import MqttSettings
from broker.accounts import DISCOVERY_PREFIX
from timeseries import InfluxSettings


class Settings(MqttSettings, InfluxSettings, BaseSettings):
    """The broker's and InfluxDB's connection fields (mqtt_*, influx_*) come from
    broker.MqttSettings and timeseries.InfluxSettings."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="forbid")

    # Fixed, so that the broker keeps our session (and queues) while we are away.
    mqtt_client_id: str = "mf-gateway"
    # 5 (default) lets the gateway announce its own receive maximum; with 3.1.1
    # the broker's max_inflight_messages caps the messages awaiting our ack.
    mqtt_protocol: Annotated[int, Field(description="MQTT protocol: 5 or 4 (3.1.1)")] = 5
    mqtt_topic: str = "mf/+/+/+"
    # Set to consume via the MQTT 5 shared subscription $share/<group>/<topic>.
    shared_group: str = ""
    # Gateway processes sharing one subscription (group `shared_group`, or
    # "gateway"), each with client id <mqtt_client_id>-<n>: one per core.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    # Set by the supervising parent in each worker: its pid (0: no parent).
    worker_of: Annotated[int, Field(ge=0)] = 0
    # How long the broker keeps the session after a disconnect (MQTT 5).
    session_expiry_s: Annotated[int, Field(ge=0)] = 7 * 24 * 3600
    receive_maximum: Annotated[int, Field(ge=1, le=65535)] = 65535
    keepalive_s: Annotated[int, Field(ge=5)] = 30
    reconnect_min_s: Annotated[int, Field(ge=1)] = 1
    reconnect_max_s: Annotated[int, Field(ge=1)] = 30

    batch_size: Annotated[int, Field(ge=1)] = 5000
    batch_interval_s: Annotated[float, Field(gt=0)] = 0.2
    spool_dir: Path = Path("var/gateway/spool")
    spool_retry_s: Annotated[float, Field(gt=0)] = 1.0
    # When the spool holds this much, acknowledgements pause (the broker keeps
    # the messages) until the drain makes room. 1 GiB: days of a site's points.
    spool_max_bytes: Annotated[int, Field(ge=1)] = 1 << 30
    deadletter_file: Path = Path("var/gateway/deadletter.jsonl")
    # The file rotates at this size, keeping this many files in all
    # (deadletter.jsonl, .1, ...); the oldest is deleted and counted.
    deadletter_file_bytes: Annotated[int, Field(ge=4096)] = 16 << 20
    deadletter_files: Annotated[int, Field(ge=2, le=1000)] = 8
    # Prometheus endpoint on this port (0: off).
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 0
    metrics_host: str = "127.0.0.1"
    # A device that sends nothing for this long is marked offline.
    liveness_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    liveness_check_s: Annotated[float, Field(gt=0)] = 5.0
    # Publish Home Assistant discovery config for every device seen.
    ha_discovery: bool = False
    ha_prefix: str = DISCOVERY_PREFIX
    log_level: str = "INFO"

    @field_validator("mqtt_protocol")
    @classmethod
    def _known_protocol(cls, value: int) -> int:
        if value not in (4, 5):
            raise ValueError("mqtt_protocol must be 4 (MQTT 3.1.1) or 5")
        return value

    @field_validator("shared_group")
    @classmethod
    def _plain_group(cls, value: str) -> str:
        if any(ch in value for ch in "/+#"):
            raise ValueError("shared_group may not contain / + or #")
        return value

    @property
    def subscription(self) -> str:
        if self.shared_group:
            return f"$share/{self.shared_group}/{self.mqtt_topic}"
        return self.mqtt_topic


def read_config_file(path: Path) -> dict[str, Any]:
    """A TOML or JSON file of the same field names (without the GATEWAY_ prefix)."""
    text = path.read_text()
    data: dict[str, Any] = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table of settings")
    return data


def load_settings(config_path: str | None = None) -> Settings:
    """Environment variables win over the file, the file over the defaults."""
    path = config_path or os.environ.get("GATEWAY_CONFIG")
    file_values = read_config_file(Path(path)) if path else {}
    env_names = {name for name in os.environ if name.startswith("GATEWAY_")}
    overrides = {
        key: value
        for key, value in file_values.items()
        if f"GATEWAY_{key.upper()}" not in env_names
    }
    return Settings(**overrides)
