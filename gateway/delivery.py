"""Takes batches to InfluxDB, or to the spool when InfluxDB cannot take them,
and only then acknowledges their MQTT messages. A second thread drains the
spool, oldest batch first, once InfluxDB answers again."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from gateway.batcher import Batch, Batcher
from gateway.metrics import Metrics
from gateway.spool import Spool
from timeseries import InfluxClient, InfluxRejected, InfluxUnavailable, arrivals

log = logging.getLogger("gateway.delivery")

# Acknowledges the (mid, qos) of a batch, in order.
Acker = Callable[[list[tuple[int, int]]], None]
Rejecter = Callable[[str, bytes, str, str, int | None], None]


class Delivery:
    def __init__(
        self,
        batcher: Batcher,
        writer: InfluxClient,
        spool: Spool,
        metrics: Metrics,
        ack: Acker,
        reject: Rejecter,
        retry_s: float,
    ) -> None:
        self.batcher = batcher
        self.writer = writer
        self.spool = spool
        self.metrics = metrics
        self._ack = ack
        self._reject = reject
        self.retry_s = retry_s
        self._stopping = threading.Event()
        self._spooled = threading.Event()
        self._threads = [
            threading.Thread(target=self._deliver_loop, name="deliver", daemon=True),
            threading.Thread(target=self._drain_loop, name="drain", daemon=True),
        ]
        metrics.spool_batches.set(len(spool))
        if len(spool):
            self._spooled.set()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (to InfluxDB or the spool), then stop."""
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
        if batch.lines:
            while not self._store(batch):
                # Neither InfluxDB nor the disk took it: keep it unacknowledged
                # (the broker still holds those messages) and try again.
                time.sleep(self.retry_s)
        self._ack(batch.acks)
        self.metrics.batch_seconds.observe(time.monotonic() - batch.started)

    def _store(self, batch: Batch) -> bool:
        body = batch.body()
        # While older batches wait in the spool, newer ones queue behind them.
        if not len(self.spool):
            try:
                self.writer.write(body)
                self.metrics.written.inc(len(batch.lines))
                self._mark_late(batch.lines)
                return True
            except InfluxRejected as exc:
                self._rejected_by_influx(body, exc.detail)
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
        except OSError as exc:
            log.error("spool write failed", extra={"error": str(exc)})
            return False
        self.metrics.spool_batches.set(len(self.spool))
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
            self.writer.write(body)
            return
        except InfluxRejected as exc:
            self._rejected_by_influx(body, exc.detail)
            return
        except InfluxUnavailable:
            pass
        if not self._spool(body):
            log.error(
                "late points stored without their markers: run "
                "`python -m api.cli refresh-counters --rebuild`",
                extra={"markers": len(marks)},
            )

    def _rejected_by_influx(self, body: bytes, error: str) -> None:
        # A field type conflict (say a counter name reused as a reading) drops
        # those points; InfluxDB has stored the rest of the batch.
        self.metrics.influx_errors.labels("rejected").inc()
        log.error("InfluxDB rejected points", extra={"error": error})
        # Kept whole: these are valid messages, and the file is their only copy.
        self._reject("influx", body, "influx_rejected", error, None)

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
        try:
            self.writer.write(body)
            self.metrics.written.inc(lines)
        except InfluxRejected as exc:
            self._rejected_by_influx(body, exc.detail)
        except InfluxUnavailable:
            self._stopping.wait(self.retry_s)
            return
        self._mark_late(body.decode().split("\n"))
        self.spool.remove(path)
        self.metrics.spool_batches.set(len(self.spool))
        log.info("spool batch drained", extra={"points": lines, "left": len(self.spool)})
