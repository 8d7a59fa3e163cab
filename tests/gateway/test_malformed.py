"""1,000 malformed payloads of many kinds among valid ones: every valid one is
stored, every malformed one counted by reason and dead-lettered (topic and
file), and the gateway keeps running."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter

import paho.mqtt.client as mqtt

from devservers import InfluxDB, Mosquitto
from devservers.gateway import GatewayProcess
from protocol import wire
from tests.gateway.conftest import connect, publish_all, wait_until
from tests.gateway.streams import T0, telemetry_stream

GOOD = {"v": 1, "seq": 1, "ts": T0, "tq": 1, "ct": {"wh": 5}, "rd": {"w": 1.5}}


def tele(**changes: object) -> bytes:
    msg = dict(GOOD, **changes)
    return json.dumps({k: v for k, v in msg.items() if v is not None}).encode()


TELEMETRY = "mf/lab/node1/telemetry"
garbage = random.Random(7)

# (expected reason, topic, payload)
KINDS: list[tuple[str, str, bytes]] = [
    ("not_json", TELEMETRY, b"wh=5 w=1.5"),
    ("not_json", TELEMETRY, bytes(garbage.randrange(128, 256) for _ in range(64))),
    ("not_json", TELEMETRY, b""),
    ("not_object", TELEMETRY, b"[1, 2, 3]"),
    # Over wire.MAX_PAYLOAD, under the broker's limit (wire.MAX_MESSAGE), which drops larger.
    ("too_large", TELEMETRY, tele(rd={"w": 1.0}, pad="x" * 10_000)),
    # NaN and Infinity are not JSON (CPython's json would take them, wire.py does not).
    ("not_json", TELEMETRY, tele(rd={"w": float("nan")})),
    ("not_finite", TELEMETRY, b'{"v":1,"seq":1,"ts":1764000000000,"ct":{},"rd":{"w":1e999}}'),
    ("bad_value", TELEMETRY, tele(ct={"wh": 2**64})),
    ("wrong_type", TELEMETRY, tele(tq="yes")),
    ("counter_negative", TELEMETRY, tele(ct={"wh": -1})),
    ("counter_not_int", TELEMETRY, tele(ct={"wh": 1.5})),
    ("bad_version", TELEMETRY, tele(v=2)),
    ("missing_field", TELEMETRY, tele(v=None)),
    ("missing_field", TELEMETRY, tele(ts=None)),
    ("wrong_type", TELEMETRY, tele(seq="12")),
    ("wrong_type", TELEMETRY, tele(ts=True)),
    ("ts_absurd", TELEMETRY, tele(ts=1000)),
    ("bad_seq", TELEMETRY, tele(seq=-3)),
    ("too_many_fields", TELEMETRY, tele(rd={f"r{i}": 1 for i in range(40)})),
    ("duplicate_field", TELEMETRY, tele(rd={"wh": 1.0})),
    ("bad_name", TELEMETRY, tele(ct={"Wh": 1})),
    ("bad_topic", "mf/lab/node1/bogus", tele()),
    ("bad_name", "mf/lab/NODE_1/telemetry", tele()),
    ("bad_value", "mf/lab/node1/event", b'{"v":1,"seq":1,"ts":1764000000000,"kind":"party"}'),
    ("bad_hash", "mf/lab/node1/event",
     b'{"v":1,"seq":1,"ts":1764000000000,"kind":"badge","ok":true,"badge":"xyz"}'),
    ("bad_value", "mf/lab/node1/status", b'{"v":1,"state":"asleep"}'),
]


def test_malformed_payloads_are_counted_dead_lettered_and_never_stored(
    mosquitto: Mosquitto, influxdb: InfluxDB, gateway: GatewayProcess
) -> None:
    valid = list(telemetry_stream(1000))
    malformed = [KINDS[i % len(KINDS)] for i in range(1000)]
    stream = []
    for good, (_, topic, payload) in zip(valid, malformed, strict=True):
        stream += [good, (topic, payload)]

    dead_topics: Counter[str] = Counter()
    lock = threading.Lock()

    def on_dead(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            dead_topics[message.topic] += 1

    watcher = connect(mosquitto, client_id="dead-letter-watcher")
    watcher.on_message = on_dead
    watcher.subscribe("mf-deadletter/#", qos=1)
    wait_until(lambda: watcher.is_connected(), 5, "the watcher")
    try:
        assert publish_all(mosquitto, stream) == 2000
        wait_until(lambda: influxdb.count("telemetry", "seq") >= 1000, 30, "the valid points")
        expected = Counter(reason for reason, _, _ in malformed)
        assert len(expected) >= 10
        wait_until(lambda: sum(dead_topics.values()) >= 1000, 30, "1,000 dead letters")
        for reason, n in expected.items():
            assert gateway.metric("gateway_rejected_total", reason=reason) == n, reason
    finally:
        watcher.disconnect()
        watcher.loop_stop()

    assert influxdb.count("telemetry", "seq") == 1000
    assert influxdb.query("SELECT count(*) FROM event") == []
    assert influxdb.count("status", "online") == 0
    expected_topics = Counter(wire.deadletter_topic(topic) for _, topic, _ in malformed)
    assert dead_topics == expected_topics
    entries = [json.loads(line) for line in gateway.deadletter_file.read_text().splitlines()]
    assert Counter(e["reason"] for e in entries) == expected
    huge = next(e for e in entries if e["reason"] == "too_large")
    assert huge["truncated"] and huge["bytes"] > 10_000
    assert any("payload_b64" in e for e in entries)

    assert gateway.running
    publish_all(mosquitto, telemetry_stream(4, first=1000))
    wait_until(lambda: influxdb.count("telemetry", "seq") == 1004, 10, "points after the rejects")
