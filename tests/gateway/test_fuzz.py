"""Hypothesis-driven fuzzing of the gateway's ingest path, `Gateway.on_message`
(the network thread's entry: bytes to points, or to the dead letters):
arbitrary topics and payload bytes, and mutations of valid messages.

For every message: nothing escapes, its acknowledgement joins a batch, and it
is either taken (points, or a downlink message ignored) or dead-lettered once
with a protocol code, never `internal`. Over a run, messages in = taken +
dead-lettered, and the dead-letter file holds one record per rejection. A
second run writes what was taken to a real InfluxDB 1.6: every point of every
taken message is stored, every field of it read back (count in = stored +
dead-lettered)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devservers import InfluxDB
from gateway.batcher import Batch
from gateway.service import Gateway
from gateway.settings import Settings
from protocol import wire
from tests.timeseries.influx2 import parse
from timeseries import InfluxClient, quote_ident, quote_string, write_sorted

# The rejection codes of docs/protocol.md (protocol.wire raises them).
CODES = {
    "bad_topic", "bad_name", "too_large", "not_json", "not_object", "missing_field",
    "bad_version", "wrong_type", "counter_not_int", "counter_negative", "not_finite",
    "bad_value", "ts_absurd", "bad_seq", "bad_hash", "too_many_fields", "not_sorted",
    "too_many_badges", "duplicate_field",
}
NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"
INT64 = st.integers(wire.INT_MIN, wire.INT_MAX)

# Names the protocol allows, and words InfluxDB treats as its own.
names = st.text(NAME_CHARS, min_size=1, max_size=wire.MAX_NAME) | st.sampled_from(
    ("time", "_measurement", "_field", "_value", "_start", "_stop", "seq", "tq", "ct_wh")
)
badges = st.text("0123456789abcdef", min_size=16, max_size=16)
times = st.integers(wire.TS_MIN_MS, wire.TS_MAX_MS)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=8,
)


@st.composite
def telemetry(draw: st.DrawFn) -> dict[str, Any]:
    counters = draw(st.dictionaries(names, st.integers(0, wire.INT_MAX), max_size=6))
    readings = draw(st.dictionaries(
        names.filter(lambda n: n not in counters),
        st.floats(allow_nan=False, allow_infinity=False) | INT64, max_size=6,
    ))
    for name in wire.RESERVED_NAMES:
        counters.pop(name, None)
        readings.pop(name, None)
    return wire.telemetry(draw(st.integers(0, wire.INT_MAX)), draw(times), counters, readings,
                          draw(st.sampled_from((0, 1))))


@st.composite
def event(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(wire.EVENT_KINDS))
    fields: dict[str, Any] = {}
    if kind in ("badge", "session_start", "session_end"):
        fields["badge"] = draw(badges)
    if kind == "badge":
        fields["ok"] = draw(st.booleans())
    if kind in ("session_start", "session_end"):
        fields["sid"] = draw(INT64)
    for key in ("reason", "detail"):
        if draw(st.booleans()):
            fields[key] = draw(st.text(max_size=200))
    if draw(st.booleans()):
        fields["ct"] = draw(st.dictionaries(names, st.integers(0, wire.INT_MAX), max_size=4))
    return wire.event(draw(st.integers(0, wire.INT_MAX)), draw(times), kind, fields)


@st.composite
def status(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return wire.status_offline()
    msg = wire.status_online(draw(times), draw(st.sampled_from(wire.ROLES)),
                             draw(st.text(max_size=40)), draw(INT64), draw(INT64))
    for key in wire.HEALTH_FIELDS:
        if draw(st.booleans()):
            msg[key] = draw(INT64)
    return msg


@st.composite
def valid(draw: st.DrawFn) -> tuple[str, bytes]:
    channel, builder = draw(st.sampled_from(
        (("telemetry", telemetry()), ("event", event()), ("status", status()))
    ))
    topic = wire.topic(draw(names), draw(names), channel)
    return topic, json.dumps(draw(builder)).encode()


# Values one step off what a field wants; OVERFLOW is written as 1e999.
OVERFLOW = "__overflow__"
NEAR_MISSES: tuple[object, ...] = (
    -1, 0, 1.5, 2.0, "1", True, None, [], {}, wire.INT_MAX + 1, wire.INT_MIN - 1,
    wire.TS_MAX_MS + 1, "x" * (wire.MAX_NAME + 1), "ABC", OVERFLOW,
)


def to_json(msg: object) -> bytes:
    return json.dumps(msg).replace(f'"{OVERFLOW}"', "1e999").encode()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid message with one thing changed: a field (or a counter, a
    reading) dropped, nudged or replaced, fields added, or its bytes cut,
    flipped or spliced, or its topic."""
    topic, payload = draw(valid())
    msg = json.loads(payload)
    how = draw(st.sampled_from(
        ("drop", "nudge", "replace", "add", "crowd", "cut", "flip", "splice", "topic", "array")
    ))
    if how in ("drop", "nudge", "replace"):
        target = msg
        inner = [k for k in ("ct", "rd") if isinstance(msg.get(k), dict) and msg[k]]
        go_inside = draw(st.booleans())
        if inner and go_inside:
            target = msg[draw(st.sampled_from(inner))]
        key = draw(st.sampled_from(sorted(target)))
        if how == "drop":
            del target[key]
        else:
            target[key] = draw(st.sampled_from(NEAR_MISSES) if how == "nudge" else json_values)
        return topic, to_json(msg)
    if how == "add":
        msg[draw(st.text(max_size=8))] = draw(json_values)
        return topic, to_json(msg)
    if how == "crowd":
        key = draw(st.sampled_from(("ct", "rd")))
        msg[key] = {f"f{n}": n for n in range(draw(st.integers(30, 40)))}
        return topic, to_json(msg)
    if how == "array":
        return topic, to_json([msg])
    if how == "cut":
        return topic, payload[: draw(st.integers(0, len(payload)))]
    if how == "flip":
        at = draw(st.integers(0, len(payload) - 1))
        flipped = payload[at] ^ draw(st.integers(1, 255))
        return topic, payload[:at] + bytes([flipped]) + payload[at + 1:]
    if how == "splice":
        at = draw(st.integers(0, len(payload)))
        return topic, payload[:at] + draw(st.binary(max_size=64)) + payload[at:]
    parts = topic.split("/")
    parts[draw(st.integers(0, 3))] = draw(st.text(max_size=40))
    return "/".join(parts), payload


def arbitrary() -> st.SearchStrategy[tuple[str | None, bytes]]:
    topics = (
        st.none()  # a topic that is not UTF-8
        | st.text(max_size=80)
        | st.builds(lambda s, d, c: f"mf/{s}/{d}/{c}", st.text(max_size=40),
                    st.text(max_size=40), st.sampled_from(wire.CHANNELS))
    )
    return st.tuples(topics, st.binary(max_size=wire.MAX_MESSAGE))


messages = arbitrary() | mutated() | valid()


def stored_fields(client: InfluxClient, line: str) -> set[str]:
    """The fields InfluxDB holds for the point of `line` (it accepts some
    fields with a 204 and drops them silently, e.g. one named "time")."""
    measurement, tags, _, at = parse(line)
    where = " AND ".join([f"{quote_ident(k)} = {quote_string(v)}" for k, v in tags]
                         + [f"time = {at}ms"])
    [series] = client.query(f"SELECT * FROM {quote_ident(measurement)} WHERE {where}")
    [row] = series.rows
    return {key for key, value in row.items() if value is not None} - {"time"} - dict(tags).keys()


class Ingest:
    """A Gateway built as `python -m gateway` builds it, fed through
    on_message without its threads: each message's outcome is read from its
    batch and the rejection counter."""

    def __init__(self, folder: Path) -> None:
        self.gateway = Gateway(Settings(
            spool_dir=folder / "spool", deadletter_file=folder / "deadletter.jsonl",
            batch_size=10**9, batch_interval_s=3600,
        ))
        self.mids = itertools.count(1)
        self.taken = 0
        self.rejected = 0

    def rejections(self) -> dict[str, float]:
        return {s.labels["reason"]: s.value for m in self.gateway.metrics.rejected.collect()
                for s in m.samples if s.name == "gateway_rejected_total"}

    def feed(self, topic: str | None, payload: bytes) -> tuple[str | None, list[str]]:
        """(rejection code or None, lines) of one message."""
        mid = next(self.mids) % 65535 + 1
        before = self.rejections()
        self.gateway.on_message(topic, payload, mid, 1)
        self.gateway.batcher.flush()
        batch: Batch | None = self.gateway.batcher.ready.get_nowait()
        assert batch is not None and batch.acks == [(mid, 1)]  # acknowledged with its batch
        grown = {r: n - before.get(r, 0) for r, n in self.rejections().items()
                 if n != before.get(r, 0)}
        if grown:
            [(code, count)] = grown.items()
            assert count == 1 and code in CODES, (code, topic, payload)
            assert batch.lines == []
            self.rejected += 1
            return code, []
        channel = wire.parse_topic(topic)[2] if topic is not None else None
        assert batch.lines or channel in wire.DOWNLINK
        self.taken += 1
        return None, batch.lines

    def check_totals(self, sent: int) -> None:
        assert self.gateway.metrics.received.count == sent == self.taken + self.rejected
        self.gateway.deadletters.sync()
        path = self.gateway.settings.deadletter_file
        reasons = [json.loads(row)["reason"] for row in path.read_text().splitlines()]
        assert len(reasons) == self.rejected and set(reasons) <= CODES


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[Ingest]:
    made = Ingest(tmp_path)
    yield made
    made.gateway.deadletters.close()
    made.gateway.writer.close()


def test_no_input_escapes_and_every_rejection_is_dead_lettered_with_a_code(
    ingest: Ingest,
) -> None:
    sent = 0

    @settings(max_examples=3000, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(messages)
    def one(message: tuple[str | None, bytes]) -> None:
        nonlocal sent
        sent += 1
        ingest.feed(*message)

    one()
    ingest.check_totals(sent)
    assert ingest.taken > 0 and ingest.rejected > 0
    assert len(ingest.rejections()) >= 8  # the strategies reach many codes


def test_every_point_of_a_taken_message_is_stored_by_influxdb(
    ingest: Ingest, influxdb: InfluxDB
) -> None:
    """One database per example: field types from one example cannot
    conflict with another's, so any refused line is the gateway's fault."""
    sent = stored = 0
    databases = itertools.count(1)

    @settings(max_examples=200, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(valid() | mutated())
    def one(message: tuple[str, bytes]) -> None:
        nonlocal sent, stored
        sent += 1
        code, lines = ingest.feed(*message)
        if code is not None:
            return
        database = f"fuzz{next(databases)}"
        influxdb.execute(f"CREATE DATABASE {quote_ident(database)}")
        try:
            with InfluxClient(influxdb.settings.model_copy(
                update={"influx_database": database}
            )) as client:
                refused = write_sorted(client, "\n".join(lines).encode())
                assert refused == [], (message, refused)
                for line in lines:
                    assert stored_fields(client, line) >= set(parse(line)[2]), (message, line)
        finally:
            influxdb.execute(f"DROP DATABASE {quote_ident(database)}")
        stored += 1

    one()
    ingest.check_totals(sent)
    assert sent == stored + ingest.rejected and stored > 0
