"""A run that ends in the present (`--live`): the history at the fast clock,
stamped with real times, then the real clock; nodes run from a folder of
config files; SIGTERM stops it cleanly and a restart fills only the gap."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from devservers import Mosquitto
from simulator.vloop import VirtualTimeLoop
from tests.simulator.harness import Observer, scenario

REPO = Path(__file__).resolve().parents[2]


def test_the_clock_follows_the_real_one_after_a_fast_past() -> None:
    loop = VirtualTimeLoop(speed=1.0)

    async def run() -> tuple[float, float, float]:
        await asyncio.sleep(7 * 86400)  # a week: jumps, no socket open
        jumped = loop.time()
        loop.follow_real_clock()
        real = time.monotonic()
        while time.monotonic() - real < 1.0:
            sum(range(20000))  # work outside select counts too
            await asyncio.sleep(0.01)
        return jumped, loop.time() - jumped, time.monotonic() - real

    try:
        jumped, virtual, real = loop.run_until_complete(run())
    finally:
        loop.close()
    assert jumped == 7 * 86400
    assert abs(virtual - real) < 0.05, (virtual, real)


def _line(proc: subprocess.Popen[str], words: str, timeout: float, seen: list[str]) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if words in line:
            return line
    raise AssertionError(f"no {words!r} in the simulator's output: {''.join(seen)}")


def _boots(observer: Observer) -> list[int]:
    return [m["ts"] for m in observer.decoded("node4", "event") if m["kind"] == "boot"]


def test_history_then_live_from_config_files(tmp_path: Path, mosquitto: Mosquitto) -> None:
    sc = scenario(mosquitto, [{"device": "node3", "role": "heating"},
                              {"device": "node4", "role": "meter"}])
    configs = tmp_path / "configs"
    configs.mkdir()
    for spec in sc.nodes:
        config = sc.node_config(spec)
        config.update(telemetry_s=60, sample_ms=5000)
        (configs / f"{spec['device']}.json").write_text(json.dumps(config))
    observer = Observer(mosquitto)
    workdir = tmp_path / "flash"
    command = [sys.executable, "-u", "-m", "simulator", "--configs", str(configs), "--live",
               "--history-days", "0.25", "--boiler-fails-after", "5", "--workdir", str(workdir)]
    started_ms = time.time() * 1000
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=REPO)
    seen: list[str] = []
    try:
        live = _line(proc, "live on the real clock", 120, seen)
        live_ms = time.time() * 1000
        failed = _line(proc, "boiler failed at", 30, seen)
        failed_ms = time.time() * 1000
        assert 4000 <= failed_ms - live_ms <= 8000, (live, failed)
        observer.wait_for(lambda: any(m["rd"].get("call") == 1 and m["ts"] > failed_ms - 1000
                                      for m in observer.decoded("node3", "telemetry")), 70)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        seen.append(out)
    assert proc.returncode == 0, "".join(seen)
    assert "node3: boots 1" in "".join(seen)  # the summary: it stopped as on Ctrl-C
    heating = observer.decoded("node3", "telemetry")
    stamps = sorted(m["ts"] for m in heating)
    # Six hours of history at the fast clock, stamped with real times, then live.
    assert abs(stamps[0] - (started_ms - 6 * 3600 * 1000)) < 120_000, stamps[0] - started_ms
    assert stamps[-1] <= time.time() * 1000 and stamps[-1] > failed_ms - 60_000
    assert len(heating) >= 6 * 60 - 2
    # The call the failure starts shows with the flow not rising.
    after = [m["rd"] for m in heating if m["ts"] > failed_ms]
    assert after and after[-1]["call"] == 1
    # A restart fills only the gap since this run stopped (the clock file).
    stopped = json.loads((workdir / "clock.json").read_text())["unix_ms"]
    assert time.time() * 1000 - stopped < 60_000
    boots = len(_boots(observer))
    again = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             cwd=REPO)
    seen = []
    try:
        _line(again, "live on the real clock", 60, seen)
        observer.wait_for(lambda: len(_boots(observer)) > boots, 30)
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=60)
    observer.close()
    assert not any("history at" in line for line in seen)  # no day of history refilled
    # The node's second boot is stamped where the first run stopped, not hours ago.
    second = _boots(observer)[boots:]
    assert second and second[0] >= stopped - 1000, (second, stopped)
