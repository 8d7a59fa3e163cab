"""Collects points and the acknowledgements they owe into batches, cut by size
or age, and hands full batches to the delivery thread in arrival order."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class Batch:
    lines: list[str] = field(default_factory=list)
    # (mid, qos) of every message whose fate this batch decides, in arrival
    # order: MQTT wants PUBACKs in the order the PUBLISHes came.
    acks: list[tuple[int, int]] = field(default_factory=list)
    started: float = 0.0

    def body(self) -> bytes:
        return "\n".join(self.lines).encode()


class Batcher:
    def __init__(self, size: int, interval_s: float) -> None:
        self.size = size
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._current = Batch()
        # Unbounded on purpose: the broker's in-flight window (receive maximum)
        # bounds what can be waiting here, and blocking the network thread
        # would only stop keepalives.
        self.ready: queue.Queue[Batch | None] = queue.Queue()

    def add(self, lines: list[str], ack: tuple[int, int] | None) -> None:
        with self._lock:
            batch = self._current
            if not batch.lines and not batch.acks:
                batch.started = time.monotonic()
            batch.lines.extend(lines)
            if ack is not None:
                batch.acks.append(ack)
            if len(batch.lines) >= self.size:
                self._cut()

    def flush_if_due(self, now: float) -> None:
        with self._lock:
            batch = self._current
            if (batch.lines or batch.acks) and now - batch.started >= self.interval_s:
                self._cut()

    def flush(self) -> None:
        with self._lock:
            if self._current.lines or self._current.acks:
                self._cut()

    def _cut(self) -> None:
        self.ready.put(self._current)
        self._current = Batch()
