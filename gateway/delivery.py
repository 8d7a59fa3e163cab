"""Takes batches to InfluxDB, or to the spool when InfluxDB cannot take them,
and only then acknowledges their MQTT messages. A second thread drains the
spool, oldest batch first, once InfluxDB answers again.

Lines InfluxDB refuses (a field type conflict, say) go to the dead letters one
by one; the rest of their batch counts as written. When the spool is full the
batch stays unacknowledged and is offered again until the drain makes room:
the broker keeps its messages, and the ones behind it, meanwhile."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from prometheus_client import Counter

from gateway.batcher import Batch, Batcher
from gateway.metrics import Metrics
from gateway.spool import Spool, SpoolFull
from timeseries import InfluxClient, InfluxUnavailable, arrivals, write_sorted

log = logging.getLogger("gateway.delivery")

# Acknowledges the (mid, qos) of a batch, in order.
Acker = Callable[[list[tuple[int, int]]], None]
Rejecter = Callable[[str, bytes, str, str, int | None], None]
# Told True when the spool turns full (acknowledgements pause), False when
# a batch fits again.
SpoolWatcher = Callable[[bool], None]


class Delivery:
    def __init__(
        self,
        batcher: Batcher,
        writer: InfluxClient,
        spool: Spool,
        metrics: Metrics,
        ack: Acker,
        reject: Rejecter,
        sync_rejects: Callable[[], None],
        retry_s: float,
        spool_full: SpoolWatcher | None = None,
    ) -> None:
        self.batcher = batcher
        self.writer = writer
        self.spool = spool
        self.metrics = metrics
        self._ack = ack
        self._reject = reject
        self._sync_rejects = sync_rejects
        self._spool_watcher = spool_full
        self.retry_s = retry_s
        self.full = False
        self._closing = threading.Event()
        self._abandoned = False
        self._stopping = threading.Event()
        self._spooled = threading.Event()
        self._threads = [
            threading.Thread(target=self._deliver_loop, name="deliver", daemon=True),
            threading.Thread(target=self._drain_loop, name="drain", daemon=True),
        ]
        metrics.spool_batches.set_function(lambda: len(spool))
        metrics.spool_bytes.set_function(lambda: spool.bytes)
        metrics.spool_quarantined.set_function(lambda: spool.quarantined)
        if len(spool):
            self._spooled.set()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (to InfluxDB or the spool), then stop. A
        batch that fits nowhere now stays unacknowledged with the broker."""
        self._closing.set()
        self.batcher.ready.put(None)
        self._threads[0].join(timeout)
        self._stopping.set()
        self._spooled.set()
        self._threads[1].join(timeout)

    # --- delivery thread ---------------------------------------------------

    def _deliver_loop(self) -> None:
        while True:
            batch = self.batcher.ready.get()
            if batch is None:
                return
            while True:
                try:
                    self._deliver(batch)
                    break
                except Exception:
                    # A bug must not end the thread: nothing would be acked again.
                    log.exception("delivery failed; retrying the batch")
                    time.sleep(self.retry_s)

    def _deliver(self, batch: Batch) -> None:
        if self._abandoned:
            return  # stopping: acknowledging later messages would skip these
        if batch.lines:
            while not self._store(batch):
                # Neither InfluxDB nor the spool took it: keep it unacknowledged
                # (the broker still holds those messages) and try again.
                if self._closing.is_set():
                    self._abandoned = True
                    log.warning("stopping with batches unacknowledged; the broker keeps them")
                    return
                self._closing.wait(self.retry_s)
            self._set_full(False)
        # The dead letters of this batch's rejected messages are on disk first.
        self._sync_rejects()
        self._ack(batch.acks)
        self.metrics.acked.inc(len(batch.acks))
        self.metrics.batch_seconds.observe(time.monotonic() - batch.started)

    def _store(self, batch: Batch) -> bool:
        body = batch.body()
        # While older batches wait in the spool, newer ones queue behind them.
        if not len(self.spool):
            try:
                self._write(body, len(batch.lines), self.metrics.written)
                self._mark_late(batch.lines)
                return True
            except InfluxUnavailable as exc:
                self.metrics.influx_errors.labels("unavailable").inc()
                log.warning("InfluxDB unavailable, spooling", extra={"error": str(exc)})
        if not self._spool(body):
            return False
        self.metrics.spooled.inc(len(batch.lines))
        return True

    def _spool(self, body: bytes) -> bool:
        try:
            self.spool.put(body)
        except SpoolFull as exc:
            self._set_full(True, str(exc))
            return False
        except OSError as exc:
            log.error("spool write failed", extra={"error": str(exc)})
            return False
        self._spooled.set()
        return True

    def _mark_late(self, lines: Iterable[str]) -> None:
        """Once late points are stored, the markers that tell readers which device
        and day they touched (timeseries.arrivals). Written after the points, so
        that a reader who sees a marker finds its points; spooled like a batch
        when InfluxDB cannot take them now."""
        marks = arrivals.markers(lines, int(time.time() * 1000))
        if not marks:
            return
        body = "\n".join(marks).encode()
        try:
            self._write(body, len(marks), self.metrics.late_markers)
            return
        except InfluxUnavailable:
            pass
        if not self._spool(body):
            log.error(
                "late points stored without their markers: run "
                "`python -m api.cli refresh-counters --rebuild`",
                extra={"markers": len(marks)},
            )

    def _write(self, body: bytes, lines: int, stored: Counter) -> None:
        """Store a batch; lines InfluxDB refuses are dead-lettered one by one.
        Raises InfluxUnavailable (nothing is dead-lettered then: the whole
        batch is tried again later, and writing a stored line again is harmless)."""
        refused = write_sorted(self.writer, body)
        stored.inc(lines - len(refused))
        if not refused:
            return
        self.metrics.influx_errors.labels("rejected").inc()
        log.error("InfluxDB refused points; the rest of the batch is stored",
                  extra={"refused": len(refused), "of": lines, "error": refused[0].error[:500]})
        for line, error in refused:
            self._reject("influx", line, "influx_rejected", error, None)

    def _set_full(self, full: bool, detail: str = "") -> None:
        if full == self.full:
            return
        self.full = full
        self.metrics.spool_full.set(1 if full else 0)
        if full:
            log.error("spool full: acknowledgements paused, the broker keeps the messages",
                      extra={"spool_bytes": self.spool.bytes, "detail": detail})
        else:
            log.warning("spool has room again: acknowledgements resume",
                        extra={"spool_bytes": self.spool.bytes})
        if self._spool_watcher is not None:
            self._spool_watcher(full)

    # --- drain thread ------------------------------------------------------

    def _drain_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._drain_once()
            except Exception:
                log.exception("spool drain failed; retrying")
                self._stopping.wait(self.retry_s)

    def _drain_once(self) -> None:
        """Write the oldest spooled batch, or wait for one."""
        self._spooled.wait()
        oldest = self.spool.oldest()
        if oldest is None:
            self._spooled.clear()
            # put() may have landed between oldest() and clear().
            if len(self.spool):
                self._spooled.set()
            return
        path, body = oldest
        lines = body.count(b"\n") + 1
        markers = arrivals.is_markers(body)
        try:
            self._write(body, lines, self.metrics.late_markers if markers else self.metrics.written)
        except InfluxUnavailable:
            self._stopping.wait(self.retry_s)
            return
        if not markers:
            self._mark_late(body.decode().split("\n"))
        # The file is the only copy of what was refused until its dead letters are on disk.
        self._sync_rejects()
        self.spool.remove(path)
        log.info("spool batch drained", extra={"points": lines, "left": len(self.spool)})
