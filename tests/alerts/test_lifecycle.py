"""The alert lifecycle on both databases of record (SQLite file, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts import lifecycle
from alerts.config import LifecycleConfig
from alerts.findings import Finding
from alerts.models import Alert, AlertDelivery, Base
from devservers import PostgreSQL

T0 = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
CHANNELS = ["webhook:ops", "email", "mqtt"]
CONFIG = LifecycleConfig(resolve_after_s=300)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'a.db'}"
        server = None
    else:
        server = PostgreSQL(tmp_path / "pg")
        server.start()
        url = server.url
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()
    if server is not None:
        server.close()


def _run(session: Session, findings: list[Finding], now: datetime) -> list[int]:
    return lifecycle.apply(session, findings, now, CONFIG, CHANNELS).deliveries


def _finding(device: str = "boiler1", t_flow: float = 21.0) -> Finding:
    return Finding(kind="heating", site="mf1", device=device, summary=f"{device} cold",
                   severity="critical", evidence=[{"time": 1, "t_flow": t_flow}])


def test_repeated_firings_are_one_alert_then_resolve_after_quiet(
    db: sessionmaker[Session],
) -> None:
    with db() as s:
        first = _run(s, [_finding(t_flow=21.0)], T0)
        assert len(first) == 3
        for minute in range(1, 20):
            now = T0 + timedelta(minutes=minute)
            assert _run(s, [_finding(t_flow=20.0 - minute)], now) == []
        last_seen = T0 + timedelta(minutes=19)
        # Absent, but not yet for resolve_after_s: still open.
        assert _run(s, [], last_seen + timedelta(seconds=299)) == []
        resolved = _run(s, [], last_seen + timedelta(seconds=300))
        assert len(resolved) == 3
        alert = s.scalars(select(Alert)).one()
        assert alert.state == "resolved" and alert.occurrences == 20
        assert alert.evidence == [{"time": 1, "t_flow": 21.0}]  # what made it fire
        assert alert.latest_evidence == [{"time": 1, "t_flow": 1.0}]
        events = sorted((d.event, d.channel) for d in s.scalars(select(AlertDelivery)))
        expected = [("fired", c) for c in CHANNELS] + [("resolved", c) for c in CHANNELS]
        assert events == sorted(expected)
        # The same condition later is a new alert.
        _run(s, [_finding()], T0 + timedelta(hours=2))
        assert [a.state for a in s.scalars(select(Alert).order_by(Alert.id))] == [
            "resolved", "firing"
        ]


def test_a_held_alert_neither_resolves_nor_counts_until_its_key_is_released(
    db: sessionmaker[Session],
) -> None:
    key = _finding().dedupe_key
    with db() as s:
        _run(s, [_finding(), _finding("boiler2")], T0)
        later = T0 + timedelta(hours=3)
        held = lifecycle.apply(s, [], later, CONFIG, CHANNELS, held={key}).deliveries
        assert len(held) == 3  # boiler2, not held, resolved; boiler1 stayed open
        alert = s.scalars(select(Alert).where(Alert.dedupe_key == key)).one()
        assert (alert.state, alert.occurrences, alert.last_seen_at) == ("firing", 1, T0)
        # Found again while held: the same alert, updated.
        _run(s, [_finding()], later + timedelta(minutes=1))
        assert alert.state == "firing" and alert.occurrences == 2
        released = lifecycle.apply(s, [], later + timedelta(minutes=7), CONFIG, CHANNELS)
        assert len(released.deliveries) == 3 and alert.state == "resolved"


def test_notified_acknowledged_by_whom_and_resolved(db: sessionmaker[Session]) -> None:
    with db() as s:
        ids = _run(s, [_finding()], T0)
        lifecycle.record_attempt(s, ids[0], "ConnectError: refused", T0, final=False)
        alert = s.scalars(select(Alert)).one()
        assert alert.state == "firing"
        lifecycle.record_attempt(s, ids[1], None, T0 + timedelta(seconds=1), final=True)
        assert alert.state == "notified" and alert.notified_at is not None
        with pytest.raises(lifecycle.LifecycleError, match="name"):
            lifecycle.acknowledge(s, alert.id, "  ", T0)
        acked = lifecycle.acknowledge(s, alert.id, "coordinator-anna", T0 + timedelta(minutes=3))
        assert (acked.state, acked.acknowledged_by) == ("acknowledged", "coordinator-anna")
        with pytest.raises(lifecycle.LifecycleError, match="acknowledged by coordinator-anna"):
            lifecycle.acknowledge(s, alert.id, "bob", T0)
        # Still firing while acknowledged: stays one acknowledged alert, no new notice.
        assert _run(s, [_finding()], T0 + timedelta(minutes=4)) == []
        assert alert.state == "acknowledged"
        resolved = _run(s, [], T0 + timedelta(minutes=20))
        assert alert.state == "resolved"
        with pytest.raises(lifecycle.LifecycleError, match="already resolved"):
            lifecycle.acknowledge(s, alert.id, "anna", T0)
        with pytest.raises(LookupError):
            lifecycle.acknowledge(s, 999, "anna", T0)
        # Failed once but not given up, never tried, and the resolved notices.
        assert lifecycle.pending_deliveries(s) == sorted([ids[0], ids[2], *resolved])


def test_database_refuses_two_open_alerts_for_one_condition(db: sessionmaker[Session]) -> None:
    with db() as s:
        _run(s, [_finding()], T0)
        s.add(Alert(dedupe_key="heating:mf1:boiler1", kind="heating", site="mf1",
                    device="boiler1", summary="duplicate", state="firing"))
        with pytest.raises(IntegrityError):
            s.commit()
        s.rollback()
        # A resolved one with the same key is fine: history keeps every episode.
        s.add(Alert(dedupe_key="heating:mf1:boiler1", kind="heating", site="mf1",
                    device="boiler1", summary="old", state="resolved"))
        s.commit()
        assert len(list(s.scalars(select(Alert)))) == 2
