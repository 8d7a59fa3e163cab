"""The wire decoder under arbitrary input: whatever bytes arrive on a channel, decode()
returns a validated message or raises wire.ProtocolError, never another exception
(the gateway and the nodes dead-letter or drop on ProtocolError alone); on acl and
cmd the node's MAC check (protocol/downlink.py) refuses with Refused alone."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import downlink, sign, wire

FUZZ = settings(max_examples=1500, derandomize=True, deadline=None, database=None)
TS = 1_767_225_600_000  # 2026-01-01
HASH = "0123456789abcdef"

KEY = bytes(range(downlink.KEY_BYTES))


def _signed(channel: str, msg: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = wire.decode(channel, sign.seal(channel, KEY, msg))
    return decoded


VALID: dict[str, list[dict[str, Any]]] = {
    "status": [wire.status_online(TS, "machine", "1.0", 10, 50_000), wire.status_offline()],
    "telemetry": [wire.telemetry(1, TS, {"wh": 5}, {"a": 1.5, "t": 20})],
    "event": [
        wire.event(2, TS, "badge", {"ok": True, "badge": HASH}),
        wire.event(3, TS, "session_start", {"sid": 1, "badge": HASH, "ct": {"wh": 5}}),
        wire.event(4, TS, "fault", {"reason": "x", "detail": "y"}),
    ],
    # As the api sends them: signed, the MAC member last (protocol/sign.py).
    "acl": [_signed("acl", wire.acl(3, [HASH, "fedcba9876543210"], ["00000000000000ff"]))],
    "cmd": [_signed("cmd", wire.cmd("config", 7, 7, {"k": 1})),
            _signed("cmd", wire.cmd("ping", 8, 8))],
}
CHANNELS = st.sampled_from(wire.CHANNELS)


def _decode(channel: str, payload: bytes | str) -> None:
    try:
        wire.decode(channel, payload)
    except wire.ProtocolError as error:
        assert error.code and error.detail
    if channel in wire.DOWNLINK and isinstance(payload, bytes):
        try:  # what a node runs first, on the bytes as received
            downlink.check(channel, KEY, payload)
        except downlink.Refused as error:
            assert error.code == "bad_mac" and error.detail


def test_the_valid_examples_decode() -> None:
    for channel, messages in VALID.items():
        for msg in messages:
            assert wire.decode(channel, json.dumps(msg).encode()) == msg


@FUZZ
@given(channel=CHANNELS, payload=st.binary(max_size=600))
def test_arbitrary_bytes(channel: str, payload: bytes) -> None:
    _decode(channel, payload)


@FUZZ
@given(channel=CHANNELS, payload=st.text(max_size=300))
def test_arbitrary_text(channel: str, payload: str) -> None:
    _decode(channel, payload)


@st.composite
def mutated_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid payload with bytes flipped, cut, repeated or spliced in."""
    channel = draw(CHANNELS)
    data = bytearray(json.dumps(draw(st.sampled_from(VALID[channel]))).encode())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "nest"]))
        if action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 8))]
        elif action == "insert":
            data[at:at] = draw(
                st.binary(min_size=1, max_size=8)
                | st.sampled_from(
                    [b"[", b"{", b'"', b"\\", b"-", b"e999", b"NaN", b"1" * 400, b"\xff", b"\xc3"]
                )
            )
        elif action == "truncate":
            del data[at:]
        else:  # deep nesting within the size limit
            depth = draw(st.integers(100, 3000))
            data[at:at] = b"[" * depth + b"]" * depth
    return channel, bytes(data)


@FUZZ
@given(case=mutated_bytes())
def test_mutated_valid_payloads(case: tuple[str, bytes]) -> None:
    _decode(*case)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.integers(min_value=2**63 - 2, max_value=2**80) | st.just(HASH),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=16,
)  # fmt: skip


@st.composite
def mutated_fields(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid message with fields replaced by any JSON value, dropped or added."""
    channel = draw(CHANNELS)
    msg = dict(draw(st.sampled_from(VALID[channel])))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*msg, "v", "ts", "extra"]))
        if draw(st.booleans()) and key in msg:
            del msg[key]
        else:
            msg[key] = draw(JSON)
    return channel, json.dumps(msg).encode()


@FUZZ
@given(case=mutated_fields())
def test_mutated_fields(case: tuple[str, bytes]) -> None:
    _decode(*case)


def test_deep_nesting_in_a_large_acl_is_a_protocol_error() -> None:
    payload = b'{"v": 1, "ver": 1, "allow": ' + b"[" * 9000 + b"]" * 9000 + b"}"
    assert len(payload) < wire.MAX_ACL_PAYLOAD
    try:
        wire.decode("acl", payload)
    except wire.ProtocolError as error:
        assert error.code == "not_json"
    else:
        raise AssertionError("a nested list is not an allow-list")
