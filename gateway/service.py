"""Wires the gateway together: MQTT session -> ingest -> batches -> InfluxDB or
spool -> acknowledgements; rejects to the dead letters; liveness on the side."""

from __future__ import annotations

import json
import logging
import threading
import time

from gateway.batcher import Batcher
from gateway.deadletter import DeadLetters, RotatingFile
from gateway.delivery import Delivery
from gateway.discovery import Discovery
from gateway.ingest import Ingested, ReceiveTimes, ingest, liveness_line
from gateway.liveness import Change, Liveness
from gateway.metrics import Metrics
from gateway.mqtt_session import MqttSession
from gateway.settings import Settings
from gateway.spool import Spool
from gateway.workers import orphaned
from protocol import wire
from protocol.wire import ProtocolError
from timeseries import InfluxClient

log = logging.getLogger("gateway")


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.batcher = Batcher(settings.batch_size, settings.batch_interval_s)
        self.liveness = Liveness(settings.liveness_timeout_s)
        self.receive_times = ReceiveTimes()
        self.session = MqttSession(settings, self.on_message, self.on_subscribed)
        deadletter_file = RotatingFile(
            settings.deadletter_file, settings.deadletter_file_bytes, settings.deadletter_files,
            self.metrics.deadletters_dropped.inc,
        )
        self.deadletters = DeadLetters(
            deadletter_file, self.session.publish, self._count_rejected
        )
        self.spool = Spool(settings.spool_dir, settings.spool_max_bytes)
        self.writer = InfluxClient(settings)
        self.delivery = Delivery(
            self.batcher,
            self.writer,
            self.spool,
            self.metrics,
            ack=self.session.ack_all,
            reject=self.deadletters.reject,
            sync_rejects=self.deadletters.sync,
            retry_s=settings.spool_retry_s,
            spool_full=self.publish_status,
        )
        self.discovery = (
            Discovery(settings.ha_prefix, self.session.publish) if settings.ha_discovery else None
        )

    def _count_rejected(self, reason: str) -> None:
        self.metrics.rejected.labels(reason).inc()

    def publish_status(self, spool_full: bool = False) -> None:
        """The gateway's own state, retained on mf-gateway/<client id>/status
        for whoever watches the site (a dashboard, Home Assistant)."""
        status = {
            "state": wire.GATEWAY_SPOOL_FULL if spool_full else wire.GATEWAY_OK,
            "acks": "paused" if spool_full else "flowing",
            "spool_bytes": self.spool.bytes,
            "spool_max_bytes": self.settings.spool_max_bytes,
            "ts": int(time.time() * 1000),
        }
        topic = wire.gateway_status_topic(self.settings.mqtt_client_id)
        try:
            self.session.publish(topic, json.dumps(status).encode(), retain=True)
        except Exception:
            log.exception("gateway status not published")

    def on_subscribed(self, ok: bool) -> None:
        self.metrics.subscribed.set(1 if ok else 0)

    def on_message(self, topic: str | None, payload: bytes, mid: int, qos: int) -> None:
        """Network thread. Must never raise: paho would drop the connection."""
        self.metrics.received.count += 1
        ack = (mid, qos) if qos else None
        now = time.time()
        try:
            if topic is None:
                raise ProtocolError("bad_topic", "topic is not UTF-8")
            result = ingest(topic, payload, int(now * 1000), self.receive_times)
            lines = result.lines
            if result.message is not None:
                lines = lines + self._liveness_lines(result, now)
                if self.discovery is not None and result.channel == "telemetry":
                    self.discovery.telemetry(result.site, result.device, result.message)
        except ProtocolError as exc:
            self.deadletters.reject(topic or "", payload, exc.code, exc.detail)
            lines = []
        except Exception as exc:
            log.exception("ingest failed", extra={"topic": topic})
            self.deadletters.reject(topic or "", payload, "internal", repr(exc))
            lines = []
        # A rejected message is acknowledged with its batch, once its dead
        # letter is on disk, keeping PUBACKs in arrival order.
        self.batcher.add(lines, ack)

    def _liveness_lines(self, result: Ingested, now: float) -> list[str]:
        assert result.message is not None
        if result.channel == "status":
            online = result.message["state"] == "online"
            self.liveness.status(result.site, result.device, online, now)
            return []
        change = self.liveness.seen(result.site, result.device, now)
        return [self._change_line(change, now)] if change else []

    @staticmethod
    def _change_line(change: Change, now: float) -> str:
        at_ms = int(now * 1000)
        return liveness_line(change.site, change.device, change.online, change.state, at_ms)

    def check_liveness(self, now: float) -> None:
        changes = self.liveness.expire(now)
        if changes:
            self.batcher.add([self._change_line(c, now) for c in changes], None)
            for change in changes:
                log.info("device silent", extra={"site": change.site, "device": change.device})
        online, known = self.liveness.counts()
        self.metrics.devices_online.set(online)
        self.metrics.devices_known.set(known)

    def run(self, stop: threading.Event) -> None:
        s = self.settings
        if s.metrics_port:
            self.metrics.serve(s.metrics_host, s.metrics_port)
        self.delivery.start()
        self.publish_status(self.delivery.full)  # queued until the session connects
        self.session.start()
        log.info(
            "gateway started",
            extra={"subscription": s.subscription, "spooled_batches": len(self.spool)},
        )
        tick = min(s.batch_interval_s / 4, 0.05)
        next_liveness = time.monotonic() + s.liveness_check_s
        while not stop.wait(tick):
            now = time.monotonic()
            self.batcher.flush_if_due(now)
            if now >= next_liveness:
                self.check_liveness(time.time())
                next_liveness = now + s.liveness_check_s
            if orphaned(s.worker_of):
                log.warning("supervisor gone; stopping", extra={"parent": s.worker_of})
                break
        self.shutdown()

    def shutdown(self) -> None:
        """Whatever was received is stored or spooled and acknowledged before we
        disconnect; anything arriving later stays with the broker's session."""
        log.info("stopping")
        self.batcher.flush()
        self.delivery.stop()
        self.session.stop()
        self.deadletters.close()
        self.writer.close()
        log.info("stopped")
