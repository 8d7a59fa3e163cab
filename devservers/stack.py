"""`make run`: the whole stack on this machine, on free loopback ports.

Mosquitto, InfluxDB, the gateway, the api, the alert service and a simulated
building (the firmware's own code on virtual hardware) run as child processes
with their data under var/stack/; the command prints where to look and runs
until Ctrl-C (or for --seconds), then stops everything and prints what arrived.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from devservers.gateway import GatewayProcess
from devservers.influxdb import InfluxDB
from devservers.mosquitto import Mosquitto
from devservers.process import ServerProcess, wait_for_http
from timeseries.client import QUERY_PATH

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "simulator" / "scenarios" / "default.json"
# Local demo credentials only: the stack listens on 127.0.0.1 and is wiped on
# every start. A real building uses docker-compose.yml with its own .env.
SERVICE_PASSWORDS = {"gateway": "gateway-local", "api": "api-local", "alerts": "alerts-local"}
ADMIN_LOGIN = ("admin", "admin-local")


class ApiProcess(ServerProcess):
    name = "api"

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        super().__init__(workdir)
        self.env = {**env, "API_PORT": str(self.port), "API_HOST": self.host}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "api"]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def after_start(self) -> None:
        wait_for_http(f"http://{self.host}:{self.port}/health", 200, 60)


def _background(name: str, command: list[str], env: dict[str, str], logdir: Path,
                ) -> subprocess.Popen[bytes]:
    log = open(logdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
    try:
        return subprocess.Popen(command, env={**os.environ, **env}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def _device_users(scenario: dict[str, object]) -> dict[str, str]:
    password = str(scenario["mqtt"]["password"])  # type: ignore[index]
    nodes = scenario["nodes"]
    assert isinstance(nodes, list)
    return {str(node["device"]): password for node in nodes}


def run(workdir: Path, seconds: float | None, speed: float) -> dict[str, int]:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    scenario = json.loads(SCENARIO.read_text())
    users = {**SERVICE_PASSWORDS, **_device_users(scenario)}
    broker = Mosquitto(workdir / "mosquitto", users, superusers=("gateway", "api", "alerts"))
    influx = InfluxDB(workdir / "influxdb")
    servers: list[ServerProcess] = [broker, influx]
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        broker.start()
        influx.start()
        gateway = GatewayProcess(workdir / "gateway", broker, influx,
                                 mqtt_password=SERVICE_PASSWORDS["gateway"])
        servers.append(gateway)
        gateway.start()
        database_url = f"sqlite:///{workdir / 'workshop.db'}"
        api_env = {
            "API_DATABASE_URL": database_url,
            "API_MQTT_HOST": broker.host, "API_MQTT_PORT": str(broker.port),
            "API_MQTT_USERNAME": "api", "API_MQTT_PASSWORD": SERVICE_PASSWORDS["api"],
            "API_INFLUX_URL": influx.url, "API_INFLUX_DATABASE": influx.database,
            "API_INFLUX_USERNAME": influx.user, "API_INFLUX_PASSWORD": influx.password,
            "API_SITE": str(scenario["site"]),
            "API_BADGE_HASH_KEY": str(scenario["badge_key"]),
            "API_DOWNLINK_KEY": str(scenario["downlink_key"]),
        }
        api = ApiProcess(workdir / "api", api_env)
        servers.append(api)
        api.start()
        subprocess.run(
            [sys.executable, "-m", "api.cli", "create-user", "--role", "admin",
             "--password", ADMIN_LOGIN[1], ADMIN_LOGIN[0]],
            env={**os.environ, **api_env}, check=True, capture_output=True,
        )
        alerts_env = {
            "ALERTS_DATABASE_URL": database_url,
            "ALERTS_INFLUX_URL": influx.url, "ALERTS_INFLUX_DATABASE": influx.database,
            "ALERTS_INFLUX_USERNAME": influx.user, "ALERTS_INFLUX_PASSWORD": influx.password,
            "ALERTS_MQTT_HOST": broker.host, "ALERTS_MQTT_PORT": str(broker.port),
            "ALERTS_MQTT_USERNAME": "alerts", "ALERTS_MQTT_PASSWORD": SERVICE_PASSWORDS["alerts"],
        }
        children["alerts"] = _background("alerts", [sys.executable, "-m", "alerts"],
                                         alerts_env, workdir)
        children["simulator"] = _background(
            "simulator",
            [sys.executable, "-m", "simulator", "--scenario", str(SCENARIO),
             "--speed", str(speed), "--mqtt-host", broker.host, "--mqtt-port", str(broker.port),
             "--workdir", str(workdir / "flash"),
             "--acl-user", "api", "--acl-password", SERVICE_PASSWORDS["api"]],
            {}, workdir,
        )
        print(
            f"""
workshop-monitor is running (data and logs in {workdir})
  web page and api   http://{api.host}:{api.port}/   (login {ADMIN_LOGIN[0]} / {ADMIN_LOGIN[1]},
                     API docs at /docs)
  MQTT broker        {broker.host}:{broker.port}   (user gateway / {SERVICE_PASSWORDS['gateway']})
  InfluxDB           {influx.url}   database {influx.database}, user {influx.user} / \
{influx.password}
  gateway metrics    {gateway.metrics_url()}
  dead letters       {gateway.deadletter_file}
  simulated building {SCENARIO.name}: {len(scenario['nodes'])} nodes at {speed:g}x real time
Try:  curl -s -u {influx.user}:{influx.password} '{influx.url}{QUERY_PATH}?db={influx.database}' \\
        --data-urlencode 'q=SELECT last(w) FROM telemetry GROUP BY device'
Stop with Ctrl-C.""",
            flush=True,
        )
        deadline = time.monotonic() + seconds if seconds else None
        while deadline is None or time.monotonic() < deadline:
            for name, child in children.items():
                if child.poll() is not None:
                    raise RuntimeError(f"{name} exited with {child.returncode}; "
                                       f"see {workdir / name}.log")
            time.sleep(0.5)
        return {
            "telemetry": influx.count("telemetry", "seq"),
            "status": influx.count("status", "online"),
            "event": influx.count("event", "seq"),
        }
    except KeyboardInterrupt:
        return {}
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
        for server in reversed(servers):
            server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devservers.stack", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "stack")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this many seconds and print the counts (default: run "
                             "until Ctrl-C)")
    parser.add_argument("--speed", type=float, default=60.0,
                        help="virtual seconds per real second in the simulated building")
    args = parser.parse_args(argv)
    counts = run(args.workdir, args.seconds, args.speed)
    if counts:
        print(json.dumps({"points_in_influxdb": counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
