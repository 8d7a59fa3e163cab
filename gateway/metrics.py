"""Prometheus metrics of one gateway process (its own registry)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector


class ReceivedCollector(Collector):
    """Messages received, counted with a plain int by the network thread (the
    only writer): a prometheus Counter takes a lock on every message."""

    def __init__(self) -> None:
        self.count = 0

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily("gateway_received", "MQTT messages received", value=self.count)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = ReceivedCollector()
        r.register(self.received)
        self.written = Counter("gateway_written_points", "Points written to InfluxDB", registry=r)
        self.late_markers = Counter(
            "gateway_late_markers", "Late-write markers written to InfluxDB", registry=r
        )
        self.spooled = Counter("gateway_spooled_points", "Points put in the disk spool", registry=r)
        self.rejected = Counter(
            "gateway_rejected", "Messages dead-lettered, by reason", ["reason"], registry=r
        )
        self.influx_errors = Counter(
            "gateway_influx_errors", "Failed writes to InfluxDB", ["kind"], registry=r
        )
        self.batch_seconds = Histogram(
            "gateway_batch_seconds",
            "From a batch's first message to its acknowledgement",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.acked = Counter("gateway_acked", "MQTT messages acknowledged", registry=r)
        self.spool_batches = Gauge(
            "gateway_spool_batches", "Batches waiting in the spool", registry=r
        )
        self.spool_bytes = Gauge("gateway_spool_bytes", "Bytes waiting in the spool", registry=r)
        self.spool_full = Gauge(
            "gateway_spool_full", "1 while the spool is full: acknowledgements paused", registry=r
        )
        self.spool_quarantined = Gauge(
            "gateway_spool_quarantined", "Foreign spool entries set aside since start", registry=r
        )
        self.deadletters_dropped = Counter(
            "gateway_deadletters_dropped", "Dead letters deleted with the oldest rotated file",
            registry=r,
        )
        self.devices_online = Gauge("gateway_devices_online", "Devices seen as online", registry=r)
        self.devices_known = Gauge("gateway_devices_known", "Devices seen since start", registry=r)
        self.subscribed = Gauge(
            "gateway_subscribed", "1 while the MQTT subscription is active", registry=r
        )

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
