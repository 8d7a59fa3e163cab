"""docker-compose.yml's services run here as processes (no Docker engine on
this machine), for the tests: the configuration as Compose resolves it
(`docker-compose config`: `.env` substituted, env_file merged into each
service's environment), each container's environment with its volumes mapped
to folders here and the other services' names and ports to free loopback
ports, and each service's health check run as Compose runs it.

What stands in for an image: eclipse-mosquitto runs Debian's mosquitto on the
mounted configuration (devservers.SiteMosquitto maps its paths and both
listeners); influxdb runs Debian's influxd and does what the image does at its
first start (the admin and the database from INFLUXDB_*); caddy runs Debian's
caddy on the mounted Caddyfile with its ports given through CADDY_*; the
project's own image runs the service's command with this interpreter.
Anything the mapping cannot honour (a host or a port the compose file leaves
to a default, a path no volume provides) is an error, not a guess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from devservers.influxdb import InfluxDB
from devservers.mosquitto import PLAIN_PORT, TLS_PORT, SiteMosquitto
from devservers.process import _RUNNING, Closing, ServerProcess, find_binary, free_port

LOOPBACK = "127.0.0.1"
# What a container's own address looks like in its configuration.
SELF = ("0.0.0.0", "localhost", LOOPBACK)
# From the host's environment: what a process needs to run at all.
BASE_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
# Where the LAN reaches the server, written into the nodes' configs (never an
# address the service itself connects to): host -> port variable. The port is
# one the compose file publishes; here it is the loopback port standing for it.
LAN_ADDRESSES = {"API_NODE_MQTT_HOST": "API_NODE_MQTT_PORT"}


def resolved_config(project: Path) -> dict[str, Any]:
    """`docker-compose config` in `project` (its .env substituted)."""
    done = subprocess.run(["docker-compose", "config"], cwd=project, capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"docker-compose config failed: {done.stderr.strip()}")
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def unescape(value: str) -> str:
    """The config output writes a literal `$` as `$$`; a container gets `$`."""
    return value.replace("$$", "$")


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        total += float(number) * units[unit]
    return total


class ComposeRun(Closing):
    """The services of a resolved compose file, started in the order of their
    depends_on, each waiting for the condition its dependents name."""

    def __init__(self, project: Path, workdir: Path, skip: Collection[str] = ()) -> None:
        self.project = project
        self.workdir = workdir
        self.config = resolved_config(project)
        self.services: dict[str, dict[str, Any]] = {
            name: spec for name, spec in self.config["services"].items()
            if name not in skip and not spec.get("profiles")
        }
        self._ports: dict[tuple[str, int], int] = {}
        self.servers: dict[str, ServerProcess] = {}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    # --- the mapping ------------------------------------------------------------

    def port(self, service: str, container_port: int) -> int:
        """The loopback port that stands for `service`'s `container_port`."""
        key = (service, container_port)
        if key not in self._ports:
            self._ports[key] = free_port()
        return self._ports[key]

    def mounts(self, service: str) -> dict[str, Path]:
        """Container path -> folder or file here, for each of its volumes."""
        found = {}
        for mount in self.services[service].get("volumes", []):
            source, target = mount.split(":")[:2]
            if source.startswith("/"):
                found[target] = Path(source)
            else:  # a named volume: one folder here, shared like the volume
                folder = self.workdir / "volumes" / source
                folder.mkdir(parents=True, exist_ok=True)
                found[target] = folder
        return found

    def _local_paths(self, service: str, value: str) -> str:
        for inside, here in sorted(self.mounts(service).items(), key=lambda m: -len(m[0])):
            value = re.sub(rf"(?<![\w.-]){re.escape(inside)}(?=/|$)", str(here), value)
        return value

    def _local_urls(self, value: str) -> str:
        def local(match: re.Match[str]) -> str:
            scheme, host, port = match.groups()
            if host not in self.config["services"]:
                return match.group(0)
            return f"{scheme}{LOOPBACK}:{self.port(host, int(port))}"
        return re.sub(r"(\w+://)([\w.-]+):(\d+)", local, value)

    def environment(self, service: str) -> dict[str, str]:
        """The container's environment as it runs here."""
        spec = self.services[service]
        env = {k: unescape("" if v is None else str(v))
               for k, v in spec.get("environment", {}).items()}
        env = {k: self._local_urls(self._local_paths(service, v)) for k, v in env.items()}
        for name, port_name in LAN_ADDRESSES.items():
            if name in env and port_name in env:
                env[port_name] = str(self.port(*self.publisher(int(env[port_name]))))
        for name, value in list(env.items()):
            if not name.endswith("_HOST") or name in LAN_ADDRESSES:
                continue
            target = service if value in SELF else value
            if target not in self.config["services"]:
                continue  # outside the project (an SMTP server, say)
            port_name = name[: -len("HOST")] + "PORT"
            if port_name not in env:
                raise ValueError(f"{service}: {name}={value} but {port_name} is not set; the "
                                 "compose file must name every port (the native run maps them)")
            env[name] = LOOPBACK
            env[port_name] = str(self.port(target, int(env[port_name])))
        return env

    def publisher(self, host_port: int) -> tuple[str, int]:
        """(service, container port) that the compose file publishes on `host_port`."""
        for name, spec in self.config["services"].items():
            for entry in spec.get("ports", []):
                if isinstance(entry, dict):
                    published, target = int(entry["published"]), int(entry["target"])
                else:
                    published, target = (int(p) for p in str(entry).split(":")[-2:])
                if published == host_port:
                    return name, target
        raise ValueError(f"no service publishes port {host_port}: the LAN cannot reach it")

    def process_env(self, service: str) -> dict[str, str]:
        """The environment a process of `service` gets here (its container's, and PATH)."""
        base = {k: os.environ[k] for k in BASE_ENV if k in os.environ}
        return {**base, **self.environment(service)}

    def _argv(self, service: str, argv: list[str]) -> list[str]:
        """A command as it runs here: `python` is this interpreter, container
        paths are mapped, `localhost:<port>` and `-p <port>` are the service's
        own ports."""
        def own_port(match: re.Match[str]) -> str:
            return f"{match.group(1)}{self.port(service, int(match.group(2)))}"
        out = []
        for arg in argv:
            arg = self._local_paths(service, unescape(arg))
            arg = re.sub(r"(localhost:)(\d+)", own_port, arg)
            arg = re.sub(r"(-p\s+)(\d+)", own_port, arg)
            out.append(arg.replace("localhost", LOOPBACK))
        if out and out[0] == "python":
            out[0] = sys.executable
        return out

    # --- running -----------------------------------------------------------------

    def order(self) -> list[str]:
        """Services before those that depend on them."""
        done: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in done:
                return
            if name in path:
                raise ValueError(f"depends_on cycle: {' -> '.join((*path, name))}")
            for dependency in self.services[name].get("depends_on", {}):
                visit(dependency, (*path, name))
            done.append(name)

        for name in self.services:
            visit(name, ())
        return done

    def start(self, timeout: float = 120) -> None:
        for name in self.order():
            for dependency, rule in self.services[name].get("depends_on", {}).items():
                self.wait_for(dependency, rule.get("condition", "service_started"), timeout)
            self._start(name)

    def restart(self, service: str, timeout: float = 120) -> None:
        """Stop a server and start it again as `docker compose up` would: the
        one-shot services it waits for run again first."""
        self.servers[service].stop()
        for dependency, rule in self.services[service].get("depends_on", {}).items():
            if rule.get("condition") == "service_completed_successfully":
                self._start(dependency)
            self.wait_for(dependency, rule.get("condition", "service_started"), timeout)
        self.servers[service].start()

    def stop(self, service: str) -> None:
        """`docker compose stop SERVICE`: a long-running service ends."""
        if service in self.servers:
            self.servers[service].stop()
            return
        proc = self.processes[service]
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def wait_for(self, service: str, condition: str, timeout: float) -> None:
        if condition == "service_healthy":
            self.wait_healthy(service, timeout)
        elif condition == "service_completed_successfully":
            proc = self.processes[service]
            code = proc.wait(timeout)
            if code != 0:
                raise RuntimeError(f"{service} exited with {code}:\n{self.log(service)}")

    def _start(self, name: str) -> None:
        spec = self.services[name]
        folder = self.workdir / "services" / name
        folder.mkdir(parents=True, exist_ok=True)
        image = str(spec.get("image", ""))
        if "build" in spec:
            self.processes[name] = self._spawn(name, self._argv(name, spec["command"]), folder)
        elif image.startswith("eclipse-mosquitto:"):
            self.servers[name] = self._mosquitto(name, folder)
            self.servers[name].start()
        elif image.startswith("influxdb:1."):
            self.servers[name] = self._influxdb(name)
            self.servers[name].start()
        elif image.startswith("caddy:"):
            self.processes[name] = self._caddy(name, folder)
        else:
            raise ValueError(f"{name}: no stand-in for the image {image!r} here")

    def _spawn(self, name: str, argv: list[str], folder: Path,
               extra_env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(folder / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(argv, cwd=folder, env={**self.process_env(name),
                                                           **(extra_env or {})},
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _RUNNING.add(proc)
        return proc

    def _caddy(self, name: str, folder: Path) -> subprocess.Popen[bytes]:
        """The caddy image: its Caddyfile, its data folder (XDG_DATA_HOME=/data
        in the image), and the ports it publishes and checks, on loopback."""
        mounts = self.mounts(name)
        published = {int(p["target"]) if isinstance(p, dict) else int(str(p).split(":")[-1])
                     for p in self.services[name].get("ports", [])}
        ports = {"CADDY_HTTPS_PORT": 443, "CADDY_HTTP_PORT": 80}
        if set(ports.values()) - published:
            raise ValueError(f"{name}: the compose file must publish 443 and 80")
        env = {key: str(self.port(name, port)) for key, port in ports.items()}
        health = re.search(r"localhost:(\d+)", " ".join(self.services[name]["healthcheck"]["test"]))
        if health:
            env["CADDY_HEALTH_PORT"] = str(self.port(name, int(health.group(1))))
        data = mounts.get("/data", folder)
        env.update(CADDY_BIND=LOOPBACK, XDG_DATA_HOME=str(data), XDG_CONFIG_HOME=str(folder),
                   HOME=str(folder))
        caddyfile = mounts["/etc/caddy/Caddyfile"]
        binary = find_binary("caddy", "/usr/bin/caddy")
        return self._spawn(name, [binary, "run", "--config", str(caddyfile), "--adapter",
                                  "caddyfile"], folder, env)

    def _mosquitto(self, name: str, folder: Path) -> SiteMosquitto:
        mounts = self.mounts(name)
        conf = mounts["/mosquitto/config/mosquitto.conf"]
        return SiteMosquitto(folder, {}, conf=conf, mounts=mounts,
                             port=self.port(name, PLAIN_PORT), tls_port=self.port(name, TLS_PORT))

    def _influxdb(self, name: str) -> InfluxDB:
        """What the influxdb:1.x image does at its first start, with auth on."""
        env = self.environment(name)
        if env.get("INFLUXDB_HTTP_AUTH_ENABLED") != "true":
            raise ValueError(f"{name}: INFLUXDB_HTTP_AUTH_ENABLED is not true")
        data = self.mounts(name).get("/var/lib/influxdb", self.workdir / "services" / name)
        return InfluxDB(data, database=env["INFLUXDB_DB"], user=env["INFLUXDB_ADMIN_USER"],
                        password=env["INFLUXDB_ADMIN_PASSWORD"], port=self.port(name, 8086),
                        alerts_db=False)  # the image makes INFLUXDB_DB only; influxdb-init the rest

    def healthcheck(self, service: str,
                    env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """The service's health check, once, as Compose runs it in the container
        (`env`: variables changed from the container's, to see it fail)."""
        check = self.services[service]["healthcheck"]
        kind, *rest = check["test"]
        if kind == "CMD":
            argv = self._argv(service, rest)
        elif kind == "CMD-SHELL":
            argv = ["sh", "-c", self._argv(service, rest)[0]]
        else:
            raise ValueError(f"{service}: health check {kind!r} runs nothing")
        try:
            return subprocess.run(argv, env={**self.process_env(service), **(env or {})},
                                  capture_output=True,
                                  text=True, timeout=_seconds(check.get("timeout", "30s")))
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(argv, -1, "", f"timed out: {exc}")

    def wait_healthy(self, service: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run the check until it passes (Compose marks the service healthy at
        the first pass); its last result, or an error after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.healthcheck(service)
            if result.returncode == 0:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} unhealthy after {timeout} s: {result.stderr}\n"
                                   f"{self.log(service)}")
            time.sleep(1)

    def log(self, service: str, lines: int = 30) -> str:
        if service in self.servers:
            return self.servers[service].log_tail(lines)
        path = self.workdir / "services" / service / f"{service}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def running(self) -> Iterator[str]:
        for name, proc in self.processes.items():
            if proc.poll() is None:
                yield name
        for name, server in self.servers.items():
            if server.running:
                yield name

    def close(self) -> None:
        for name in self.processes:
            self.stop(name)
        for server in reversed(list(self.servers.values())):
            server.close()

