"""One path from MQTT bytes to line-protocol points, one function per step:
parse the topic, decode and validate the payload, map it to points.

Every rejection is a protocol.wire.ProtocolError with a stable `code`."""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache
from typing import Any, NamedTuple

from protocol import wire
from timeseries.lines import (
    bool_field,
    float_pairs,
    int_field,
    int_pairs,
    joined,
    line,
    string_field,
    tag_suffix,
)

HEALTH_FIELDS: tuple[str, ...] = wire.HEALTH_FIELDS
_NONE: dict[str, float] = {}


@lru_cache(maxsize=4096)
def device_tags(site: str, device: str) -> str:
    """The tags of a device's points, encoded once per device (hot path)."""
    return tag_suffix(("site", site), ("device", device))


class Ingested(NamedTuple):
    site: str
    device: str
    channel: str
    message: dict[str, Any] | None  # None for downlink channels, which we ignore
    lines: list[str]


def parse_topic(topic: str) -> tuple[str, str, str]:
    site, device, channel = wire.parse_topic(topic)
    return site, device, channel


def decode(channel: str, payload: bytes) -> dict[str, Any]:
    message: dict[str, Any] = wire.decode(channel, payload)
    return message


def stamped(message: dict[str, Any]) -> bool:
    # tq 0: the node's clock is not set yet, so its ts means nothing here.
    return "ts" in message and bool(message.get("tq", 1))


class ReceiveTimes:
    """The gateway's receive time for unstamped messages, strictly increasing
    per device and channel: a node replaying its outbox after a power cut
    without NTP sends many in one millisecond, and InfluxDB keeps one point
    per series and time. A message that comes again (its PUBACK was lost, or
    the node restarted before it) gets the time it got the first time, so
    InfluxDB overwrites the point instead of storing a second one: the last
    KEEP seqs of each device and channel are remembered. One instance per
    gateway process (workers sharing a subscription each keep their own, so
    the guarantee is per worker)."""

    KEEP = 4096

    def __init__(self) -> None:
        self._last: dict[tuple[str, str, str], int] = {}
        self._given: dict[tuple[str, str, str], OrderedDict[int, int]] = {}

    def next(self, key: tuple[str, str, str], now_ms: int, seq: int | None = None) -> int:
        if seq is None:  # status messages carry no seq
            return self._after(key, now_ms)
        given = self._given.get(key)
        if given is None:
            given = self._given[key] = OrderedDict()
        elif seq in given:
            return given[seq]
        at = given[seq] = self._after(key, now_ms)
        if len(given) > self.KEEP:
            given.popitem(last=False)
        return at

    def _after(self, key: tuple[str, str, str], now_ms: int) -> int:
        at = max(now_ms, self._last.get(key, 0) + 1)
        self._last[key] = at
        return at


def telemetry_lines(site: str, device: str, msg: dict[str, Any], at_ms: int) -> list[str]:
    # The hot path (most messages): bulk pairs, no per-field dict.
    pairs = int_pairs(msg["ct"])
    pairs += float_pairs(msg.get("rd", _NONE))
    pairs.append("seq=" + int_field(msg["seq"]))
    pairs.append("tq=" + int_field(msg.get("tq", 1)))
    return [joined("telemetry", device_tags(site, device), pairs, at_ms)]


def event_lines(site: str, device: str, msg: dict[str, Any], at_ms: int) -> list[str]:
    fields = {"seq": int_field(msg["seq"])}
    if "badge" in msg:
        fields["badge"] = string_field(msg["badge"])
    if "ok" in msg:
        fields["ok"] = bool_field(msg["ok"])
    if "sid" in msg:
        fields["sid"] = int_field(msg["sid"])
    for key in ("reason", "detail"):
        if key in msg:
            fields[key] = string_field(msg[key])
    for name, value in msg.get("ct", {}).items():
        fields["ct_" + name] = int_field(value)
    tags = tag_suffix(("site", site), ("device", device), ("kind", msg["kind"]))
    return [line("event", tags, fields, at_ms)]


def status_lines(site: str, device: str, msg: dict[str, Any], at_ms: int) -> list[str]:
    online = msg["state"] == "online"
    fields = {"online": int_field(1 if online else 0), "state": string_field(msg["state"])}
    if online:
        fields["fw"] = string_field(msg["fw"])
        fields["role"] = string_field(msg["role"])
        for key in ("up", "heap", *HEALTH_FIELDS):
            if key in msg:
                fields[key] = int_field(msg[key])
    return [line("status", device_tags(site, device), fields, at_ms)]


def liveness_line(site: str, device: str, online: bool, state: str, at_ms: int) -> str:
    """A status point the gateway derives itself (silence, traffic again)."""
    fields = {"online": int_field(1 if online else 0), "state": string_field(state)}
    return line("status", device_tags(site, device), fields, at_ms)


_TO_LINES = {"telemetry": telemetry_lines, "event": event_lines, "status": status_lines}


def ingest(topic: str, payload: bytes, received_ms: int,
           times: ReceiveTimes | None = None) -> Ingested:
    """Raises wire.ProtocolError for anything that must not reach InfluxDB."""
    site, device, channel = parse_topic(topic)
    if channel not in wire.UPLINK:
        # acl/cmd are the server's own downlink traffic on the same tree.
        return Ingested(site, device, channel, None, [])
    message = decode(channel, payload)
    if stamped(message):
        at_ms = int(message["ts"])
    else:
        at_ms = received_ms if times is None else times.next(
            (site, device, channel), received_ms, message.get("seq"))
    lines = _TO_LINES[channel](site, device, message, at_ms)
    return Ingested(site, device, channel, message, lines)

