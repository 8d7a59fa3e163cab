"""`workers` > 1: one parent process starts N gateway processes that split one
MQTT 5 shared subscription, one per core. Each worker is a whole gateway with
its own client id (so its own persistent session), spool folder, dead-letter
file and metrics port; the broker hands each message to one of them.

The parent only supervises: it restarts a worker that dies and forwards
SIGTERM/SIGINT. A worker whose parent is gone (SIGKILL) shuts down the normal
way, storing or spooling and acknowledging what it received; the broker keeps
the rest in the workers' sessions for the next start."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from gateway.settings import Settings

log = logging.getLogger("gateway.workers")

DEFAULT_GROUP = "gateway"
RESTART_DELAY_S = 1.0


def worker_environment(settings: Settings, index: int) -> dict[str, str]:
    """GATEWAY_* overrides for worker `index` (0-based); they win over the file."""
    deadletter = settings.deadletter_file
    env = {
        "GATEWAY_WORKERS": "1",
        "GATEWAY_WORKER_OF": str(os.getpid()),
        "GATEWAY_MQTT_CLIENT_ID": f"{settings.mqtt_client_id}-{index + 1}",
        "GATEWAY_SHARED_GROUP": settings.shared_group or DEFAULT_GROUP,
        "GATEWAY_SPOOL_DIR": str(settings.spool_dir / f"worker-{index + 1}"),
        "GATEWAY_DEADLETTER_FILE": str(
            deadletter.with_name(f"{deadletter.stem}-{index + 1}{deadletter.suffix}")
        ),
    }
    if settings.metrics_port:
        env["GATEWAY_METRICS_PORT"] = str(settings.metrics_port + index)
    return env


class Workers:
    def __init__(self, settings: Settings, argv: list[str]) -> None:
        self.settings = settings
        self.argv = argv  # passed on to every worker (e.g. --config FILE)
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * settings.workers

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        env = {**os.environ, **worker_environment(self.settings, index)}
        proc = subprocess.Popen([sys.executable, "-m", "gateway", *self.argv], env=env)
        log.info("worker started", extra={"worker": index + 1, "pid": proc.pid})
        return proc

    def run(self, stop: threading.Event) -> None:
        for index in range(len(self.procs)):
            self.procs[index] = self._spawn(index)
        while not stop.wait(0.2):
            for index, proc in enumerate(self.procs):
                if proc is not None and proc.poll() is not None:
                    log.error("worker died; restarting",
                              extra={"worker": index + 1, "exit_code": proc.returncode})
                    time.sleep(RESTART_DELAY_S)
                    self.procs[index] = self._spawn(index)
        self.shutdown()

    def shutdown(self, timeout: float = 60.0) -> None:
        running = [p for p in self.procs if p is not None and p.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.info("workers stopped")


def orphaned(parent_pid: int) -> bool:
    """True once the supervising parent is gone (we were re-parented)."""
    return parent_pid > 0 and os.getppid() != parent_pid

