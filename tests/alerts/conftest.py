"""Fixtures for the alert tests: a fresh alert database (SQLite file, or the
real PostgreSQL), and an alert service wired to the real InfluxDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from alerts.config import RulesConfig
from alerts.delivery import Dispatcher, RetryPolicy
from alerts.delivery.message import Channel
from alerts.models import Base
from alerts.runner import AlertService
from devservers import InfluxDB
from timeseries import InfluxClient


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


FAST_RETRY = RetryPolicy(first_delay_s=0.2, max_delay_s=1.0, max_attempts=5)


@pytest.fixture
def make_service(
    influxdb: InfluxDB, sessions: sessionmaker[Session]
) -> Iterator[Callable[..., AlertService]]:
    sources: list[InfluxClient] = []

    def make(
        channels: Sequence[Channel] = (),
        config: RulesConfig | None = None,
        policy: RetryPolicy = FAST_RETRY,
    ) -> AlertService:
        source = influxdb.client(30)
        timeline = influxdb.client(30, influxdb.alerts_database)
        sources.extend([source, timeline])
        return AlertService(
            source, config or RulesConfig(), sessions, Dispatcher(channels, sessions, policy),
            timeline=timeline,
        )

    yield make
    for source in sources:
        source.close()
