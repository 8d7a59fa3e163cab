"""Dead letters on a real disk: the file rotates within its bound and counts
what it drops, every record is fsync'd before its message is acknowledged,
and the copy published to the broker fits the broker's message size limit."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from devservers import InfluxDB
from gateway.batcher import Batcher
from gateway.deadletter import MAX_KEPT_BYTES, DeadLetters, RotatingFile
from gateway.delivery import Delivery
from gateway.metrics import Metrics
from gateway.spool import Spool
from protocol import wire
from tests.gateway.conftest import wait_until
from tests.gateway.streams import T0

TOPIC = "mf/lab/node1/telemetry"


class Published:
    """What DeadLetters hands to the broker session."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def __call__(self, topic: str, payload: bytes) -> None:
        self.messages.append((topic, payload))


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(row) for row in path.read_text().splitlines()]


def test_the_file_rotates_within_its_bound_and_counts_what_it_drops(tmp_path: Path) -> None:
    path = tmp_path / "deadletter.jsonl"
    dropped: list[int] = []
    file = RotatingFile(path, max_bytes=4096, files=3, dropped=dropped.append)
    letters = DeadLetters(file, Published(), lambda reason: None)
    sent = 200
    for n in range(sent):
        letters.reject(TOPIC, f'{{"n": {n}}}'.encode(), "not_json", f"number {n}")
    letters.close()

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "deadletter.jsonl", "deadletter.jsonl.1", "deadletter.jsonl.2"
    ]
    oldest_first = [path.with_name(f"deadletter.jsonl{end}") for end in (".2", ".1", "")]
    assert all(file.stat().st_size <= 4096 for file in oldest_first)
    kept = [records(file) for file in oldest_first]
    numbers = [int(str(r["detail"]).split()[1]) for part in kept for r in part]
    # The newest records, in order; everything older was counted as dropped.
    assert numbers == list(range(sent - len(numbers), sent))
    assert sum(dropped) == sent - len(numbers) > 0

    again = RotatingFile(path, max_bytes=4096, files=3, dropped=dropped.append)
    DeadLetters(again, Published(), lambda reason: None).reject(TOPIC, b"x", "not_json", "last")
    again.close()
    assert records(path)[-1]["detail"] == "last"  # appends after a restart


def test_dead_letters_are_synced_before_their_messages_are_acknowledged(
    tmp_path: Path, influxdb: InfluxDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, object]] = []
    lock = threading.Lock()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        with lock:
            events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    def ack(acks: list[tuple[int, int]]) -> None:
        with lock:
            events.append(("ack", [mid for mid, _ in acks]))

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "deadletter.jsonl"
    letters = DeadLetters(RotatingFile(path, 1 << 20, 2, lambda n: None), Published(),
                          lambda reason: None)
    batcher = Batcher(size=1000, interval_s=60)
    delivery = Delivery(batcher, influxdb.client(), Spool(tmp_path / "spool", 1 << 20),
                        Metrics(), ack=ack, reject=letters.reject, sync_rejects=letters.sync,
                        retry_s=0.1)
    delivery.start()
    try:
        # The network thread's order: a reject's record, then its ack joins the batch.
        letters.reject(TOPIC, b"garbage", "not_json", "payload is not UTF-8 JSON")
        batcher.add([], (7, 1))
        batcher.add([f"telemetry,site=lab,device=node1 seq=1i {T0}"], (8, 1))
        batcher.flush()
        wait_until(lambda: any(kind == "ack" for kind, _ in events), 10, "the acks")
    finally:
        delivery.stop()
        letters.close()
    with lock:
        synced = events.index(("fsync", str(path)))
        acked = events.index(("ack", [7, 8]))
    assert synced < acked
    assert influxdb.count("telemetry", "seq") == 1


def test_the_published_copy_fits_the_brokers_limit(tmp_path: Path) -> None:
    """8 KB of control characters are 48 KB once JSON-escaped."""
    path = tmp_path / "deadletter.jsonl"
    published = Published()
    letters = DeadLetters(RotatingFile(path, 1 << 20, 2, lambda n: None), published,
                          lambda reason: None)
    payload = b"\x01" * 20_000
    letters.reject(TOPIC, payload, "not_json", "x" * 10_000)
    letters.close()
    [(topic, message)] = published.messages
    assert topic == wire.deadletter_topic(TOPIC)
    assert len(message) <= wire.MAX_MESSAGE
    sent = json.loads(message)
    assert sent["truncated"] and sent["bytes"] == 20_000 and sent["reason"] == "not_json"
    assert 0 < len(sent["payload"]) < MAX_KEPT_BYTES
    [kept] = records(path)  # the file keeps more
    assert len(str(kept["payload"])) == MAX_KEPT_BYTES and kept["truncated"]
    assert len(str(kept["detail"])) < 10_000
