"""`make run`: the product on a simulated building, on this machine, in real time.

Mosquitto, InfluxDB, the gateway, the api and the alert service run as child
processes (each in its own process group) on loopback ports, with their data
under the workdir (var/stack/), kept from one run to the next (--fresh starts
from nothing). The building of simulator/scenarios/default.json is enrolled
through the api as a site's staff would do it (HTTP; the first admin with the
admin CLI), each node's config.json comes from the api, and the simulator runs
the firmware's own code from those files: first the last --history-days at
the fast clock, stamped with real times, then live on the real clock. When
the live part begins, the alert service starts, the treasurer imports the
history's bill and runs its split, and --boiler-fails-after seconds later the
boiler fails, so the heating alert arrives a few minutes later (docs/simulator.md).

Ctrl-C or SIGTERM stops every process it started, process group by process
group; the command prints where to look, the logins, and how to aim the admin
CLI at this stack."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from devservers import demo
from devservers.gateway import GatewayProcess
from devservers.influxdb import InfluxDB
from devservers.mosquitto import SiteMosquitto, site_accounts
from devservers.process import ServerProcess, free_port, wait_for_http
from simulator.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "simulator" / "scenarios" / "default.json"
ALERT_RULES = Path(__file__).resolve().parent / "demo_alert_rules.toml"
# Local demo credentials only: the stack listens on 127.0.0.1.
SERVICE_PASSWORDS = {"gateway": "gateway-local", "api": "api-local", "alerts": "alerts-local",
                     "alerts-reader": "alerts-reader-local",
                     "health": "health-local"}
GRACE_S = 20.0  # how long a process may take to stop before it is killed


class ApiProcess(ServerProcess):
    name = "api"

    def __init__(self, workdir: Path, env: dict[str, str], port: int) -> None:
        super().__init__(workdir, port)
        self.env = {**env, "API_PORT": str(self.port), "API_HOST": self.host}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "api"]

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def after_start(self) -> None:
        wait_for_http(f"http://{self.host}:{self.port}/health", 200, 60)


class Ports:
    """The ports of the last run, kept when still free: the web page's address
    stays the same across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.saved: dict[str, int] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.saved = {}

    def get(self, name: str) -> int:
        port = self.saved.get(name)
        if port is None or not _free(port):
            port = free_port()
        self.saved[name] = port
        self.path.write_text(json.dumps(self.saved))
        return port


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LogWatch:
    """The lines a child adds to its log file, as they come."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def new_lines(self) -> list[str]:
        try:
            with self.path.open("rb") as log:
                log.seek(self.offset)
                data = log.read()
        except OSError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self.offset += len(complete)
        return complete.decode(errors="replace").splitlines()


class Stack:
    """The processes of one run and how to stop them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.servers: list[ServerProcess] = []
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.pids_path = workdir / "pids.json"

    def record(self) -> None:
        """Every process started (each leads its own process group), for a user
        or a test that wants to be sure none is left."""
        pids = {s.name: s.proc.pid for s in self.servers if s.proc is not None}
        pids.update({name: child.pid for name, child in self.children.items()})
        self.pids_path.write_text(json.dumps(pids))

    def start_server(self, server: ServerProcess) -> None:
        self.servers.append(server)
        server.start(timeout=60)
        self.record()

    def start_child(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            self.children[name] = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=ROOT,
            )
        finally:
            log.close()
        self.record()

    def check(self) -> None:
        for name, child in self.children.items():
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode}; "
                                   f"see {self.workdir / name}.log")
        for server in self.servers:
            if not server.running:
                raise RuntimeError(f"{server.name} stopped; see {server.log_path}")

    def stop(self) -> None:
        """The simulator first (its nodes stop publishing), then the alerts, then
        the servers in reverse order; each group SIGTERMed, SIGKILLed if late."""
        for child in reversed(list(self.children.values())):
            _end_group(child)
        for server in reversed(self.servers):
            if server.proc is not None:
                _end_group(server.proc)


def _end_group(leader: subprocess.Popen[bytes]) -> None:
    """SIGTERM a process group, wait for its leader, SIGKILL whatever is left
    in the group (a late leader too)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(leader.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        leader.wait(GRACE_S)
    try:
        os.killpg(leader.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    leader.wait(GRACE_S)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the run as Ctrl-C does


def _secret(path: Path) -> str:
    """The api's token key, made once per workdir (tokens survive a restart)."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _write_env(path: Path, env: dict[str, str]) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("".join(f"{key}={value}\n" for key, value in sorted(env.items())))


def _admin_cli(env_file: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "api.cli", "--env-file", str(env_file), *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("API_")})


def _say(text: str) -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> dict[str, int]:
    workdir: Path = args.workdir.resolve()
    if args.fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = Scenario.load(SCENARIO)
    ports = Ports(workdir / "ports.json")
    stack = Stack(workdir)
    try:
        # The site's broker as shipped: the api gives each device its login as it
        # issues the node's config (Mosquitto's dynamic-security plugin).
        broker = SiteMosquitto(workdir / "mosquitto", SERVICE_PASSWORDS,
                               site_accounts(scenario.site, SERVICE_PASSWORDS),
                               port=ports.get("mqtt"))
        stack.start_server(broker)
        influx = InfluxDB(workdir / "influxdb", port=ports.get("influxdb"))
        stack.start_server(influx)
        gateway = GatewayProcess(workdir / "gateway", broker, influx,
                                 mqtt_password=SERVICE_PASSWORDS["gateway"],
                                 metrics_port=ports.get("gateway"))
        stack.start_server(gateway)
        database_url = f"sqlite:///{workdir / 'api.db'}"
        api_env = {
            "API_DATABASE_URL": database_url,
            "API_SITE": scenario.site,
            "API_SECRET_KEY": _secret(workdir / "secret_key"),
            "API_BADGE_HASH_KEY": scenario.badge_key_hex,
            "API_MQTT_HOST": broker.host, "API_MQTT_PORT": str(broker.port),
            "API_MQTT_USERNAME": "api", "API_MQTT_PASSWORD": SERVICE_PASSWORDS["api"],
            "API_INFLUX_URL": influx.url, "API_INFLUX_DATABASE": influx.database,
            "API_INFLUX_USERNAME": influx.user, "API_INFLUX_PASSWORD": influx.password,
            # The scenario's master secret, so that the api signs as the scenario's
            # own nodes expect (the api's node configs carry keys derived from it).
            "API_DOWNLINK_KEY": scenario.downlink_master,
            # What the api writes into the nodes' configs: the same broker here.
            "API_NODE_MQTT_HOST": broker.host, "API_NODE_MQTT_PORT": str(broker.port),
            "API_NODE_WIFI_SSID": "workshop", "API_NODE_WIFI_PASSWORD": "simulated",
        }
        env_file = workdir / "api.env"
        _write_env(env_file, api_env)
        api = ApiProcess(workdir / "api", api_env, ports.get("api"))
        stack.start_server(api)
        client = demo.ApiClient(f"http://{api.host}:{api.port}")
        if not client.login("admin"):
            made = _admin_cli(env_file, "create-user", "admin", "--role", "admin",
                              "--password", demo.password_of("admin"))
            if made.returncode != 0 or not client.login("admin"):
                raise RuntimeError(f"the admin login could not be made: {made.stderr}")
        logins = scenario.data["enrolment"]["logins"]
        today = datetime.now(UTC).date()
        if not demo.enrolled(client):
            demo.enrol(client, scenario, today)
        for login in logins:
            client.login(login["username"])
        configs = demo.node_configs(client, scenario, workdir / "configs")
        sim_log = workdir / "simulator.log"
        watch = LogWatch(sim_log)
        command = [sys.executable, "-u", "-m", "simulator", "--scenario", str(SCENARIO),
                   "--configs", str(workdir / "configs"), "--live",
                   "--history-days", str(args.history_days), "--workdir", str(workdir / "flash")]
        if args.boiler_fails_after is not None:
            command += ["--boiler-fails-after", str(args.boiler_fails_after)]
        stack.start_child("simulator", command, {})
        _say(_banner(args, workdir, broker, influx, gateway, api, env_file, logins,
                     len(configs)))
        deadline = time.monotonic() + args.seconds if args.seconds else None
        live = False
        while deadline is None or time.monotonic() < deadline:
            stack.check()
            for line in watch.new_lines():
                if "history at" in line or "boiler failed" in line or "live on" in line:
                    _say(line)
                if "live on the real clock" in line and not live:
                    live = True
                    _go_live(args, stack, workdir, client, influx, scenario, broker, database_url)
            time.sleep(0.5)
        return {
            "telemetry": influx.count("telemetry", "seq"),
            "status": influx.count("status", "online"),
            "event": influx.count("event", "seq"),
        }
    except KeyboardInterrupt:
        return {}
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _say("stopping every process of the stack ...")
        stack.stop()
        stack.pids_path.unlink(missing_ok=True)
        _say(f"stopped; the data stays in {workdir} (--fresh to start from nothing)")


def _go_live(args: argparse.Namespace, stack: Stack, workdir: Path, client: demo.ApiClient,
             influx: InfluxDB, scenario: Scenario, broker: SiteMosquitto,
             database_url: str) -> None:
    """The history is in: the alerts start on the real clock, and the treasurer
    splits the history's bill."""
    stack.start_child("alerts", [sys.executable, "-m", "alerts"], {
        "ALERTS_DATABASE_URL": database_url,
        "ALERTS_INFLUX_URL": influx.url, "ALERTS_INFLUX_DATABASE": influx.database,
        "ALERTS_INFLUX_USERNAME": influx.user, "ALERTS_INFLUX_PASSWORD": influx.password,
        "ALERTS_MQTT_HOST": broker.host, "ALERTS_MQTT_PORT": str(broker.port),
        "ALERTS_MQTT_USERNAME": "alerts", "ALERTS_MQTT_PASSWORD": SERVICE_PASSWORDS["alerts"],
        "ALERTS_RULES_FILE": str(args.alert_rules),
        "ALERTS_INTERVAL_S": str(args.alert_interval),
    })
    if args.boiler_fails_after is not None:
        at = datetime.now(UTC) + timedelta(seconds=args.boiler_fails_after)
        _say(f"the boiler fails at about {at:%H:%M:%S} UTC; the heating alert follows within "
             f"a few minutes (GET /alerts, or the web page as coordinator)")
    today = datetime.now(UTC).date()
    first = today - timedelta(days=int(args.history_days) - 1)
    last = today - timedelta(days=1)
    if last < first:
        _say("bill: the history holds no whole day; no bill imported")
        return
    with influx.client(60) as reader:
        outcome = demo.bill_and_split(client, reader, scenario, first, last)
    if outcome is not None:
        _say(f"bill {outcome['bill']} ({first} .. {last}) imported by the treasurer; draft "
             f"split {outcome['split']}: total {outcome['total']}"
             + (" (held: attributed kWh beyond tolerance)" if outcome["held"] else ""))


def _banner(args: argparse.Namespace, workdir: Path, broker: SiteMosquitto, influx: InfluxDB,
            gateway: GatewayProcess, api: ApiProcess, env_file: Path,
            logins: list[dict[str, str]], nodes: int) -> str:
    who = "\n".join(f"    {x['role']:<12}{x['username']} / {demo.password_of(x['username'])}"
                    for x in logins)
    cli = Path(sys.executable)
    with contextlib.suppress(ValueError):
        cli = cli.relative_to(Path.cwd())
    return f"""
workshop-monitor is running (data and logs in {workdir})
  web page and api   http://{api.host}:{api.port}/   (API docs at /docs)
  logins
{who}
  admin CLI          {cli} -m api.cli --env-file {env_file} COMMAND
  MQTT broker        {broker.host}:{broker.port}   (user gateway / {SERVICE_PASSWORDS['gateway']})
  InfluxDB           {influx.url}   database {influx.database}, user {influx.user} / \
{influx.password}
  gateway metrics    {gateway.metrics_url()}
  simulated building {SCENARIO.name}: {nodes} nodes running from the api's configs in \
{workdir / 'configs'}
  history            the last {args.history_days:g} days at the fast clock (a few minutes), \
then live on the real clock
  processes          {stack_pids(workdir)}
Stop with Ctrl-C.""".rstrip()


def stack_pids(workdir: Path) -> str:
    try:
        pids = json.loads((workdir / "pids.json").read_text())
    except (OSError, ValueError):
        return "-"
    return ", ".join(f"{name} {pid}" for name, pid in pids.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devservers.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "stack")
    parser.add_argument("--fresh", action="store_true",
                        help="delete the workdir first: a new building, enrolled again")
    parser.add_argument("--history-days", type=float, default=30.0,
                        help="days of history before the live part (first run; a restart fills "
                             "only the time since the last one)")
    parser.add_argument("--boiler-fails-after", type=float, default=300.0, metavar="S",
                        help="the boiler fails S seconds into the live part")
    parser.add_argument("--alert-rules", type=Path, default=ALERT_RULES,
                        help="alert thresholds (TOML, docs/alerts.md); the default shortens the "
                             "heating window so the demo's failure shows within minutes")
    parser.add_argument("--alert-interval", type=float, default=10.0,
                        help="seconds between two evaluations of the alert rules")
    parser.add_argument("--seconds", type=float, default=None,
                        help="stop after this many seconds and print the counts (default: run "
                             "until Ctrl-C or SIGTERM)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        counts = run(args)
    except (demo.DemoError, RuntimeError) as exc:
        print(f"make run: {exc}\n(`make run-fresh` starts from nothing)", file=sys.stderr)
        return 1
    if counts:
        print(json.dumps({"points_in_influxdb": counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
