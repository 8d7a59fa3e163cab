"""How the acceptance test reaches the running site, as its people do: the web
api over HTTPS through Caddy with the site CA, the admin CLI as `docker compose
run --rm api python -m api.cli` would run it, and the output of a long-running
command (the simulator, a replay) line by line, as it comes."""

from __future__ import annotations

import re
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from deploy.bootstrap import CA_CERT
from devservers.compose import LOOPBACK, ComposeRun
from tests.deploy.site import ROOT
from timeseries import InfluxClient, InfluxSettings


class SiteApi:
    """The api as the LAN reaches it: https://<server>/ through Caddy, trusting
    the site CA; one bearer token per login."""

    def __init__(self, run: ComposeRun) -> None:
        verify = ssl.create_default_context(cafile=run.project / CA_CERT)
        self.http = httpx.Client(base_url=f"https://localhost:{run.port('caddy', 443)}",
                                 verify=verify, timeout=120)
        self.tokens: dict[str, str] = {}

    def login(self, username: str, password: str) -> None:
        answer = self.http.post("/auth/token", json={"username": username, "password": password})
        assert answer.status_code == 200, (username, answer.text)
        self.tokens[username] = answer.json()["access_token"]

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.http.request(method, path, headers=headers, **kwargs)

    def ok(self, who: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(who, method, path, **kwargs)
        assert answer.status_code < 300, f"{method} {path} as {who}: {answer.status_code} " \
                                         f"{answer.text}"
        return answer.json()

    def close(self) -> None:
        self.http.close()


def admin_cli(run: ComposeRun, *argv: str) -> str:
    """`docker compose run --rm api python -m api.cli ARGV`: the api container's
    environment; its output, or a failed assertion with its error."""
    done = subprocess.run([sys.executable, "-m", "api.cli", *argv], env=run.process_env("api"),
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"api.cli {' '.join(argv)}: {done.stderr}"
    return done.stdout


def influx_admin(run: ComposeRun) -> InfluxClient:
    """InfluxDB as its admin reads it (`docker compose exec influxdb influx`)."""
    env = run.environment("influxdb")
    return InfluxClient(InfluxSettings(
        influx_url=f"http://{LOOPBACK}:{run.port('influxdb', 8086)}",
        influx_database=env["INFLUXDB_DB"], influx_username=env["INFLUXDB_ADMIN_USER"],
        influx_password=SecretStr(env["INFLUXDB_ADMIN_PASSWORD"])), 120)


class Lines:
    """A child's stdout, read by a thread as it comes: (monotonic time, line)."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None,
                 cwd: Path = ROOT) -> None:
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.lines: list[tuple[float, str]] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def next_line(self, seen: int, timeout: float) -> tuple[float, str] | None:
        """The line after the first `seen` ones, waiting for it; None when the
        process ended (or `timeout` passed) without one."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.lines) <= seen:
                if not self._thread.is_alive() or time.monotonic() > deadline:
                    return None
                self._changed.wait(0.5)
            return self.lines[seen]

    def find(self, pattern: str) -> list[tuple[float, re.Match[str]]]:
        regex = re.compile(pattern)
        return [(at, m) for at, line in list(self.lines) if (m := regex.search(line))]

    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._thread.join(10)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
