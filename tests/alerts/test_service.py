"""`python -m alerts` as the process docker compose runs: settings from the
environment, the loop on the clock, a webhook notified, alert states written
to InfluxDB, a clean stop on SIGTERM; a bad thresholds file is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from alerts.models import Alert, Base
from bench.synthetic import Heating
from devservers import InfluxDB
from tests.alerts.receivers import WebhookReceiver

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, influxdb: InfluxDB, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTS_")}
    env.update({
        "ALERTS_DATABASE_URL": f"sqlite:///{tmp_path / 'workshop.db'}",
        "ALERTS_INFLUX_URL": influxdb.url,
        "ALERTS_INFLUX_USERNAME": influxdb.user,
        "ALERTS_INFLUX_PASSWORD": influxdb.password,
        "ALERTS_INTERVAL_S": "1",
    })
    env.update(extra)
    return env


def _last_state(influxdb: InfluxDB) -> str | None:
    series = influxdb.query('SELECT last("state") FROM "alert"', influxdb.alerts_database)
    if not series:
        return None
    values = series[0].values
    assert isinstance(values, list)
    return str(values[0][1])


def test_service_notifies_and_stops_cleanly(tmp_path: Path, influxdb: InfluxDB) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'workshop.db'}")
    Base.metadata.create_all(engine)
    now = int(time.time() * 1000)
    # A boiler that failed 40 minutes ago while calling, up to now.
    influxdb.write(Heating(failed=[(now - 40 * 60_000, now + 60_000)]).series(
        now - 3 * 3_600_000, now))
    with WebhookReceiver() as hook:
        env = _env(tmp_path, influxdb, ALERTS_WEBHOOKS=json.dumps([{"url": hook.url}]))
        proc = subprocess.Popen([sys.executable, "-m", "alerts"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while not (hook.received and _last_state(influxdb) == "notified"):
                assert time.monotonic() < deadline, "no notice, or the loop stopped evaluating"
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert [b["alert"]["kind"] for _, _, b in hook.received] == ["heating"], output
    with Session(engine) as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.kind == "heating" and alert.state == "notified"
    points = influxdb.query('SELECT "state", "open" FROM "alert"', influxdb.alerts_database)
    # The alerts' own database (ALERTS_INFLUX_ALERTS_DATABASE's default), not the site's.
    assert influxdb.query('SELECT count("open") FROM "alert"') == []
    values = points[0].values
    assert isinstance(values, list)
    assert [v[1:] for v in values][:2] == [["firing", 1], ["notified", 1]]


def test_bad_thresholds_file_is_refused_with_the_reason(tmp_path: Path,
                                                        influxdb: InfluxDB) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[heating]\nrise_cc = 3\n")
    done = subprocess.run([sys.executable, "-m", "alerts"], cwd=REPO, capture_output=True,
                          text=True, timeout=30,
                          env=_env(tmp_path, influxdb, ALERTS_RULES_FILE=str(rules)))
    assert done.returncode == 2
    assert "unknown key(s) in [heating]: rise_cc" in done.stderr


def _health(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The container's health check, with the service's environment."""
    return subprocess.run([sys.executable, "-m", "alerts.health"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30)


def test_service_rides_out_influxdb_down_at_start(tmp_path: Path, influxdb: InfluxDB) -> None:
    """...and its health check says so: unhealthy while no pass reaches
    InfluxDB, healthy once one does."""
    engine = create_engine(f"sqlite:///{tmp_path / 'workshop.db'}")
    Base.metadata.create_all(engine)
    influxdb.kill()
    with WebhookReceiver() as hook:
        env = _env(tmp_path, influxdb, ALERTS_WEBHOOKS=json.dumps([{"url": hook.url}]),
                   ALERTS_HEARTBEAT_FILE=str(tmp_path / "heartbeat"))
        proc = subprocess.Popen([sys.executable, "-m", "alerts"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(4)  # several evaluations against a dead InfluxDB
            assert proc.poll() is None, "the service died while InfluxDB was down"
            sick = _health(env)
            assert sick.returncode == 1 and "no pass has finished yet" in sick.stderr
            influxdb.start()
            now = int(time.time() * 1000)
            influxdb.write(Heating(failed=[(now - 40 * 60_000, now + 60_000)]).series(
                now - 3 * 3_600_000, now))
            deadline = time.monotonic() + 30
            while not hook.received:
                assert time.monotonic() < deadline, "no notice after InfluxDB came back"
                time.sleep(0.2)
            while _health(env).returncode != 0:
                assert time.monotonic() < deadline, "still unhealthy after passes succeeded"
            influxdb.kill()
            time.sleep(4)  # more than three 1 s intervals without a pass
            stale = _health(env)
            assert stale.returncode == 1 and "the last pass finished" in stale.stderr
        finally:
            proc.send_signal(signal.SIGTERM)
            output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "InfluxDB unreachable" in output
    assert [b["alert"]["kind"] for _, _, b in hook.received] == ["heating"]
