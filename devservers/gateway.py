"""The gateway (`python -m gateway`) as a child process wired to a Mosquitto
and an InfluxDB from devservers: for tests, benchmarks and the local stack.

Ready means its metrics endpoint reports an active MQTT subscription, not just
a listening port. Settings changed in `.settings` apply at the next start.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from devservers.influxdb import InfluxDB
from devservers.mosquitto import MosquittoProcess
from devservers.process import ServerProcess

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


class GatewayProcess(ServerProcess):
    name = "gateway"

    def __init__(
        self,
        workdir: Path,
        mosquitto: MosquittoProcess,
        influxdb: InfluxDB,
        mqtt_username: str = "gateway",
        mqtt_password: str = "gateway-secret",
        **settings_overrides: Any,
    ) -> None:
        """`settings_overrides` are gateway Settings fields (see gateway/settings.py),
        e.g. batch_size=100, shared_group="g", mqtt_client_id="gw-2"."""
        super().__init__(workdir, settings_overrides.pop("metrics_port", None))
        self.mosquitto = mosquitto
        self.influxdb = influxdb
        self.settings: dict[str, Any] = {
            "mqtt_host": mosquitto.host,
            "mqtt_port": mosquitto.port,
            "mqtt_username": mqtt_username,
            "mqtt_password": mqtt_password,
            "influx_url": influxdb.url,
            "influx_database": influxdb.database,
            "influx_username": influxdb.user,
            "influx_password": influxdb.password,
            "spool_dir": self.workdir / "spool",
            "deadletter_file": self.workdir / "deadletter.jsonl",
            "metrics_host": self.host,
            "metrics_port": self.port,
            "spool_retry_s": 0.5,
            "reconnect_max_s": 2,
        }
        self.settings.update(settings_overrides)

    def metrics_url(self, worker: int = 0) -> str:
        """Worker k (GATEWAY_WORKERS) serves its metrics on the port after k."""
        return f"http://{self.host}:{self.port + worker}/metrics"

    @property
    def deadletter_file(self) -> Path:
        return Path(self.settings["deadletter_file"])

    @property
    def spool_dir(self) -> Path:
        return Path(self.settings["spool_dir"])

    @property
    def config_path(self) -> Path:
        return self.workdir / "gateway.json"

    def start(self, timeout: float = 30.0) -> None:
        self.write_config()
        super().start(timeout)

    def write_config(self) -> None:
        """Settings go in a private file, not in argv or the environment."""
        self.config_path.write_text(json.dumps(self.settings, default=str, indent=1))
        self.config_path.chmod(0o600)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "gateway", "--config", str(self.config_path)]

    def after_start(self) -> None:
        deadline = time.monotonic() + 30
        for worker in range(int(self.settings.get("workers", 1))):
            while self.metric("gateway_subscribed", worker) != 1:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"gateway exited with code {self.proc.returncode}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"gateway worker {worker + 1} did not subscribe")
                time.sleep(0.05)

    def metrics(self, worker: int = 0) -> dict[str, float]:
        """Every sample of a metrics endpoint, keyed `name` or `name{labels}`."""
        try:
            text = httpx.get(self.metrics_url(worker), timeout=5).text
        except httpx.HTTPError:
            return {}
        samples = {}
        for row in text.splitlines():
            match = _SAMPLE.match(row)
            if match:
                samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
        return samples

    def metric(self, name: str, worker: int = 0, **labels: str) -> float | None:
        key = name
        if labels:
            key += "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
        return self.metrics(worker).get(key)
