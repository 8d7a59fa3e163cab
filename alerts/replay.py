"""`python -m alerts --replay FROM TO`: a past window, evaluated as the service
would have evaluated it then.

For the time the service did not run (an upgrade, a crash, the server off, a
building's history loaded afterwards): every ALERTS_INTERVAL_S from FROM to TO
the rules run on what InfluxDB holds for that moment (every query is bounded
by it, queries.py), alerts open, update and resolve with those times, and
their notices go out on every channel, now. It returns once every notice was
sent or gave up. Run it while the service is stopped: two instances would
each judge the open alerts (`docker compose stop alerts`, then
`docker compose run --rm alerts python -m alerts --replay FROM TO`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from alerts import lifecycle
from alerts.models import AlertDelivery
from alerts.runner import AlertService


class ReplayError(ValueError):
    """A window the replay refuses; the message says why."""


@dataclass
class Replayed:
    evaluations: int = 0
    # (moment evaluated, "fired" or "resolved", alert id, dedupe key), in order
    changes: list[tuple[int, str, int, str]] = field(default_factory=list)
    sent: int = 0
    failed: int = 0


def parse_moment(text: str) -> int:
    """ISO 8601 with a zone (2026-01-10T06:00:00Z) -> Unix ms."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ReplayError(f"{text!r} is not an ISO 8601 time (e.g. 2026-01-10T06:00:00Z)") from exc
    if moment.tzinfo is None:
        raise ReplayError(f"{text!r} has no time zone: add Z for UTC, or +01:00")
    return int(moment.timestamp() * 1000)


def moments(start_ms: int, end_ms: int, interval_s: float,
            now_ms: int | None = None) -> list[int]:
    """The evaluation moments of a window: start, every interval, up to end."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if end_ms <= start_ms:
        raise ReplayError("the window ends before it starts")
    if end_ms > now_ms:
        raise ReplayError("the window ends in the future: the running service judges the "
                          "present, a replay only the past")
    step = int(interval_s * 1000)
    if step <= 0:
        raise ReplayError("ALERTS_INTERVAL_S must be above 0")
    return list(range(start_ms, end_ms + 1, step))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


async def replay(service: AlertService, times: Sequence[int],
                 say: Callable[[str], None] = print) -> Replayed:
    """Evaluate at each of `times` in turn, then wait until every notice of
    the window (and any left pending before it) was sent or gave up."""
    outcome = Replayed()
    created: list[int] = []
    service.dispatcher.start()
    try:
        with service.sessions() as session:
            service.dispatcher.submit(lifecycle.pending_deliveries(session))
        for now_ms in times:
            _, ids = await asyncio.to_thread(service.evaluate_once, now_ms)
            outcome.evaluations += 1
            if not ids:
                continue
            created += ids
            service.dispatcher.submit(ids)
            with service.sessions() as session:
                rows = session.scalars(select(AlertDelivery).where(AlertDelivery.id.in_(ids)))
                changed = sorted({(d.event, d.alert.id, d.alert.dedupe_key) for d in rows})
            for event, alert_id, key in changed:
                outcome.changes.append((now_ms, event, alert_id, key))
                say(f"{_iso(now_ms)}: {event} {key} (alert {alert_id})")
        await service.dispatcher.idle()
    finally:
        await service.dispatcher.stop()
    with service.sessions() as session:
        statuses = session.scalars(
            select(AlertDelivery.status).where(AlertDelivery.id.in_(created))).all()
    outcome.sent = sum(1 for s in statuses if s == "sent")
    outcome.failed = sum(1 for s in statuses if s == "failed")
    return outcome
