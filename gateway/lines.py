"""InfluxDB line protocol for the gateway's three measurements.

A lean encoder instead of influxdb_client's Point: names reaching here were
validated by protocol.wire (a-z 0-9 _ -), so tags and field keys need no
escaping, and Point costs several times more per line (see bench/ingest.py)."""

from __future__ import annotations

from collections.abc import Mapping


def string_field(value: str) -> str:
    # Line protocol escapes only \ and " inside strings; a raw newline would end
    # the line, so it is written as the two characters \n.
    if not value.isascii():
        # JSON may carry lone surrogates ("\ud800"), which UTF-8 cannot encode.
        value = value.encode("utf-8", "replace").decode("utf-8")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    if "\n" in escaped or "\r" in escaped:
        escaped = escaped.replace("\r", "\\r").replace("\n", "\\n")
    return '"' + escaped + '"'


def int_field(value: int) -> str:
    return f"{value}i"


def float_field(value: float | int) -> str:
    # repr keeps every digit; an int reading is written without the "i" suffix
    # so that the field stays a float whatever the device sent.
    return repr(float(value))


def line(measurement: str, tags: str, fields: Mapping[str, str], ts_ms: int) -> str:
    """`tags` is the already joined ",k=v,k=v" suffix; `fields` hold encoded values."""
    body = ",".join([k + "=" + v for k, v in fields.items()])
    return f"{measurement}{tags} {body} {ts_ms}"


def tag_suffix(*pairs: tuple[str, str]) -> str:
    return "".join(["," + k + "=" + v for k, v in pairs])
