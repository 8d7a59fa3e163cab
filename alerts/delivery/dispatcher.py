"""Sends deliveries: one queue and one worker per channel, each retrying with
exponential backoff and jitter on its own, so a dead webhook delays nothing
but itself. Every try is recorded on the delivery row."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from alerts import lifecycle
from alerts.delivery.message import Channel, Message, render
from alerts.models import AlertDelivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    first_delay_s: float = 2.0
    max_delay_s: float = 300.0
    max_attempts: int = 12  # about half an hour of trying with the defaults

    def delay(self, attempt: int) -> float:
        base = min(self.max_delay_s, self.first_delay_s * 2 ** (attempt - 1))
        return base * random.uniform(0.8, 1.2)


class Dispatcher:
    def __init__(
        self,
        channels: Sequence[Channel],
        sessions: Callable[[], Session],
        policy: RetryPolicy | None = None,
    ) -> None:
        self.channels = {c.name: c for c in channels}
        self.sessions = sessions
        self.policy = policy or RetryPolicy()
        self._queues: dict[str, asyncio.Queue[int]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def channel_names(self) -> list[str]:
        return list(self.channels)

    def start(self) -> None:
        for name in self.channels:
            queue: asyncio.Queue[int] = asyncio.Queue()
            self._queues[name] = queue
            self._tasks.append(asyncio.create_task(self._work(name, queue), name=f"deliver-{name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                await asyncio.to_thread(close)

    def submit(self, delivery_ids: Sequence[int]) -> None:
        with self.sessions() as session:
            for delivery_id in delivery_ids:
                delivery = session.get(AlertDelivery, delivery_id)
                if delivery is None or delivery.channel not in self._queues:
                    continue
                self._queues[delivery.channel].put_nowait(delivery_id)

    async def idle(self) -> None:
        """Wait until every queued delivery was sent or gave up."""
        await asyncio.gather(*(q.join() for q in self._queues.values()))

    def _message(self, delivery_id: int) -> Message | None:
        with self.sessions() as session:
            delivery = session.get(AlertDelivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return None
            return render(delivery.alert, delivery.event)

    def _record(self, delivery_id: int, error: str | None, final: bool) -> None:
        with self.sessions() as session:
            lifecycle.record_attempt(session, delivery_id, error, datetime.now(UTC), final)

    async def _work(self, name: str, queue: asyncio.Queue[int]) -> None:
        channel = self.channels[name]
        while True:
            delivery_id = await queue.get()
            try:
                message = self._message(delivery_id)
                if message is not None:
                    await self._deliver(channel, delivery_id, message)
            except Exception:  # one bad delivery must not kill the channel's worker
                log.exception("delivery %s on %s crashed", delivery_id, name)
            finally:
                queue.task_done()

    async def _deliver(self, channel: Channel, delivery_id: int, message: Message) -> None:
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                await asyncio.to_thread(channel.send, message)
            except Exception as exc:
                final = attempt == self.policy.max_attempts
                self._record(delivery_id, f"{type(exc).__name__}: {exc}", final)
                log.warning("delivery %s on %s failed (try %d): %s",
                            delivery_id, channel.name, attempt, exc)
                if final:
                    return
                await asyncio.sleep(self.policy.delay(attempt))
            else:
                self._record(delivery_id, None, True)
                return
