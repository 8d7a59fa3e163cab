"""A server binary run as a child process, with readiness and fault injection."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

# Servers run in their own session so that a test can SIGKILL them alone; the
# price is that they outlive a crashed parent. This net stops what is left.
_RUNNING: set[subprocess.Popen[bytes]] = set()


@atexit.register
def _stop_leftovers() -> None:
    for proc in list(_RUNNING):
        if proc.poll() is None:
            proc.kill()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s")


def wait_for_http(url: str, status: int, timeout: float) -> None:
    """Poll `url` until it answers `status`: a listening port is not yet a
    serving server."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == status:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer {status} within {timeout} s")
        time.sleep(0.05)


def find_binary(name: str, *candidates: str) -> str:
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (see .ci/run for the apt packages)")
    return found


class Closing:
    """`with X(...) as x:` calls x.close() on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ServerProcess(Closing):
    """Start, stop, SIGKILL and restart one server; its data stays in `workdir`
    across restarts so that a restart looks like a real crash and recovery."""

    name = "server"
    host = "127.0.0.1"
    tcp = True  # a UDP-only server says so and waits for itself in after_start

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"{self.name}.log"
        self._prepared = False

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment; None inherits ours."""
        return None

    def prepare(self) -> None:
        """Write configuration; called once before the first start."""

    def after_start(self) -> None:
        """Wait until the server really serves; the port alone may not say so."""

    def start(self, timeout: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        if not self._prepared:
            self.prepare()
            self._prepared = True
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=self.environment(),
        )
        log.close()
        _RUNNING.add(self.proc)
        try:
            if self.tcp:
                wait_for_port(self.host, self.port, timeout, self.proc)
            self.after_start()
        except Exception as exc:
            self.kill()
            raise RuntimeError(f"{self.name} did not start: {exc}\n{self.log_tail()}") from exc

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the crash the fault tests inject."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        self.proc.wait(10)

    def close(self) -> None:
        """Stop for good and remove what lives outside `workdir`."""
        self.stop()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> ServerProcess:
        self.start()
        return self


class DatabaseServer(ServerProcess):
    """A server with one database and one login, created at first start."""

    default_user = "admin"
    default_password = "admin-secret"

    def __init__(
        self,
        workdir: Path,
        database: str = "workshop",
        user: str | None = None,
        password: str | None = None,
        port: int | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.database = database
        self.user = user or self.default_user
        self.password = password or self.default_password
