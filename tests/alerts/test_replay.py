"""`python -m alerts --replay FROM TO`, as an operator runs it after the
service was down: a boiler that failed and was repaired inside the window is
one heating alert, opened and resolved at the window's own times and notified
now; a window that reaches into the future, or ends before it starts, is
refused with the reason and records nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from alerts.config import RulesConfig
from alerts.lifecycle import as_utc
from alerts.models import Alert, Base
from bench.synthetic import Heating
from devservers import InfluxDB
from tests.alerts.receivers import WebhookReceiver
from tests.alerts.test_service import _env as service_env

REPO = Path(__file__).resolve().parents[2]
HOUR = 3_600_000
INTERVAL_S = 30


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _replay(tmp_path: Path, influxdb: InfluxDB, hook_url: str,
            *window: str) -> subprocess.CompletedProcess[str]:
    env = service_env(tmp_path, influxdb, ALERTS_INTERVAL_S=str(INTERVAL_S),
                      ALERTS_WEBHOOKS=json.dumps([{"url": hook_url}]))
    return subprocess.run([sys.executable, "-m", "alerts", "--replay", *window], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_a_past_failure_is_replayed_as_one_alert_notified_now(
    tmp_path: Path, influxdb: InfluxDB
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'workshop.db'}")
    Base.metadata.create_all(engine)
    # Yesterday (a calling morning of the synthetic boiler: it calls 06-19 on
    # weekdays, so the day is a Monday 7 days back at most): failed for an hour.
    now = int(time.time() * 1000)
    day = now - now % (24 * HOUR) - 24 * HOUR
    while datetime.fromtimestamp(day / 1000, UTC).weekday() != 0:
        day -= 24 * HOUR
    fail, repaired = day + 7 * HOUR, day + 8 * HOUR
    influxdb.write(Heating(failed=[(fail, repaired)]).series(day, day + 10 * HOUR))
    window_s = RulesConfig().heating.rise_window_s

    with WebhookReceiver() as hook:
        began = time.monotonic()
        done = _replay(tmp_path, influxdb, hook.url, _iso(fail - HOUR), _iso(repaired + HOUR))
        real_s = time.monotonic() - began
        assert done.returncode == 0, done.stdout + done.stderr
        notices = [(b["alert"]["kind"], b["alert"]["event"]) for _, _, b in hook.received]
        assert notices == [("heating", "fired"), ("heating", "resolved")], notices

    with Session(engine) as session:
        alert = session.scalars(select(Alert)).one()
    fired = as_utc(alert.fired_at).timestamp() * 1000
    resolved = as_utc(alert.resolved_at).timestamp() * 1000 if alert.resolved_at else None
    # At the window's times, not the replay's: within the rule's window of the
    # failure (the synthetic boiler calls all morning), resolved after the repair.
    assert fail < fired <= fail + (window_s + 2 * INTERVAL_S) * 1000, (fail, fired)
    assert resolved is not None and repaired < resolved <= repaired + HOUR
    assert alert.kind == "heating" and alert.state == "resolved"
    lines = done.stdout.splitlines()
    assert any(f"{_iso(int(fired))[:-1]}+00:00: fired heating:" in line for line in lines), lines
    assert any("resolved heating:" in line for line in lines), lines
    assert f"replayed {3 * 3600 // INTERVAL_S + 1} evaluations" in done.stdout
    assert "notices sent 2, failed 0" in done.stdout
    print(f"replayed 3 h of a boiler in {real_s:.1f} s")


def test_a_window_in_the_future_or_backwards_is_refused(
    tmp_path: Path, influxdb: InfluxDB
) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'workshop.db'}")
    Base.metadata.create_all(engine)
    now = int(time.time() * 1000)
    with WebhookReceiver() as hook:
        ahead = _replay(tmp_path, influxdb, hook.url, _iso(now - HOUR), _iso(now + HOUR))
        backwards = _replay(tmp_path, influxdb, hook.url, _iso(now - HOUR), _iso(now - 2 * HOUR))
        no_zone = _replay(tmp_path, influxdb, hook.url, "2026-01-10T06:00:00", _iso(now))
    assert ahead.returncode == 2 and "ends in the future" in ahead.stderr, ahead.stderr
    assert backwards.returncode == 2 and "ends before it starts" in backwards.stderr
    assert no_zone.returncode == 2 and "has no time zone" in no_zone.stderr
    assert hook.received == []
    with Session(engine) as session:
        assert session.scalars(select(Alert)).all() == []
