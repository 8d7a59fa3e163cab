"""`python -m simulator` with the default scenario (the stack's) against a
real broker, and a bad scenario refused with a message naming the fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from devservers import Mosquitto
from tests.conftest import DEVICE_PASSWORD, TEST_PASSWORD, TEST_USER
from tests.simulator.harness import Observer

REPO = Path(__file__).resolve().parents[2]
DEFAULT = REPO / "simulator" / "scenarios" / "default.json"


def test_default_scenario_runs_against_the_broker(tmp_path: Path, mosquitto: Mosquitto) -> None:
    observer = Observer(mosquitto)
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--scenario", str(DEFAULT), "--speed", "100",
         "--duration", "1200", "--mqtt-host", mosquitto.host, "--mqtt-port", str(mosquitto.port),
         "--device-password", DEVICE_PASSWORD, "--workdir", str(tmp_path / "flash"),
         "--acl-user", TEST_USER, "--acl-password", TEST_PASSWORD],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    periods = _telemetry_periods()
    # 1,200 virtual s: about 1,200 / telemetry_s from each node, all valid protocol.
    least = {device: 1200 // period - 2 for device, period in periods.items()}
    observer.wait_for(lambda: all(len(observer.decoded(d, "telemetry")) >= n
                                  for d, n in least.items()))
    for device, n in least.items():
        assert len(observer.decoded(device, "telemetry")) >= n, device
        assert observer.decoded(device, "status")[0]["state"] == "online"
    acls = observer.decoded("node1", "acl")
    observer.close()
    assert acls and len(acls[0]["allow"]) == 3  # alice, bob, carla may use the laser
    assert "virtual time 1200 s" in result.stdout
    # The flash folders stay for the next run.
    assert (tmp_path / "flash" / "node1" / "outbox").is_dir()


def _telemetry_periods() -> dict[str, int]:
    """Each node of the default scenario and its telemetry period (s)."""
    return {n["device"]: int(n["config"]["telemetry_s"])
            for n in json.loads(DEFAULT.read_text())["nodes"]}


def test_bad_scenario_is_refused_with_the_reason(tmp_path: Path) -> None:
    bad = json.loads(DEFAULT.read_text())
    bad["events"].append({"at_s": 10, "outage": "node9", "for_s": 5})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    result = subprocess.run([sys.executable, "-m", "simulator", "--scenario", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2
    assert "no node 'node9'" in result.stderr


def test_fast_clock_runs_hours_connected_without_a_timeout(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    """`--fast`: six connected hours of the default scenario. The clock jumps
    only while no node waits for the broker, so no MQTT timeout fires: no
    retransmission, no reconnect, and every telemetry message arrives."""
    hours = 6
    observer = Observer(mosquitto)
    result = subprocess.run(
        [sys.executable, "-m", "simulator", "--scenario", str(DEFAULT), "--fast",
         "--duration", str(hours * 3600), "--mqtt-host", mosquitto.host,
         "--mqtt-port", str(mosquitto.port), "--device-password", DEVICE_PASSWORD,
         "--workdir", str(tmp_path / "flash"),
         "--acl-user", TEST_USER, "--acl-password", TEST_PASSWORD],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"virtual time {hours * 3600} s" in result.stdout
    periods = _telemetry_periods()
    summaries = [line for line in result.stdout.splitlines() if "retransmits" in line]
    assert len(summaries) == len(periods), result.stdout
    for line in summaries:
        assert "reconnects 0, retransmits 0," in line, line
    expected = {device: hours * 3600 // period for device, period in periods.items()}
    observer.wait_for(lambda: all(
        len(observer.decoded(d, "telemetry")) >= n - 2 for d, n in expected.items()))
    for device, n in expected.items():
        seqs = {m["seq"] for m in observer.decoded(device, "telemetry")}
        assert n - 2 <= len(seqs) <= n + 1, (device, len(seqs))
    observer.close()
