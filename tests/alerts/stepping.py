"""Drive an alert service through simulated time: evaluate at chosen moments
on the data already in InfluxDB, hand deliveries to the dispatcher."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from alerts.findings import Finding
from alerts.runner import AlertService

MINUTE = 60_000


def moments(start: int, end: int, fine: Sequence[tuple[int, int]] = (),
            coarse_ms: int = 5 * MINUTE, fine_ms: int = 30_000) -> list[int]:
    """Every `fine_ms` inside the `fine` spans, every `coarse_ms` elsewhere."""
    out, now = [], start
    while now < end:
        out.append(now)
        now += fine_ms if any(a <= now < b for a, b in fine) else coarse_ms
    return out


async def step_through(
    service: AlertService, times: Sequence[int]
) -> list[tuple[int, list[Finding]]]:
    seen = []
    for now in times:
        found, ids = await asyncio.to_thread(service.evaluate_once, now)
        service.dispatcher.submit(ids)
        seen.append((now, found))
    return seen


async def assert_silent(service: AlertService, times: Sequence[int]) -> tuple[int, float]:
    """Evaluates at `times` and fails on any finding; -> (evaluations, seconds)."""
    began = time.monotonic()
    seen = await step_through(service, times)
    noisy = [(now, f.summary) for now, found in seen for f in found]
    assert noisy == [], noisy[:5]
    return len(seen), time.monotonic() - began


def first(seen: Sequence[tuple[int, list[Finding]]], kind: str, after: int = 0) -> int | None:
    return next((now for now, found in seen if now >= after and any(f.kind == kind for f in found)),
                None)
