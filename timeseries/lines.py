"""InfluxDB line protocol: the one encoder of the project's points.

`measurement,tag=v,tag=v field=value,field=value <ms>`. Measurement names, tag
keys and values and field keys are not escaped: the project's are validated
names (protocol.wire: a-z 0-9 _ -) or fixed words, and the callers keep it so.
String field values are escaped here. Leaner than influxdb_client's Point,
which costs several times more per line (see bench/ingest.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


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


def bool_field(value: bool) -> str:
    return "true" if value else "false"


def int_pairs(values: Mapping[str, int]) -> list[str]:
    """`key=<int>i` for each item: the bulk form of int_field for hot paths."""
    return [f"{k}={v}i" for k, v in values.items()]


def float_pairs(values: Mapping[str, float | int]) -> list[str]:
    """`key=<float>` for each item: the bulk form of float_field."""
    return [f"{k}={float(v)!r}" for k, v in values.items()]


def tag_suffix(*pairs: tuple[str, str]) -> str:
    """The ",k=v,k=v" that follows the measurement."""
    return "".join(["," + k + "=" + v for k, v in pairs])


def joined(measurement: str, tags: str, pairs: Sequence[str], ts_ms: int) -> str:
    """A line from already encoded `key=value` pairs (int_pairs, float_pairs)."""
    return f"{measurement}{tags} {','.join(pairs)} {ts_ms}"


def line(measurement: str, tags: str, fields: Mapping[str, str], ts_ms: int) -> str:
    """`tags` from tag_suffix; `fields` map keys to encoded values (int_field, ...)."""
    return joined(measurement, tags, [k + "=" + v for k, v in fields.items()], ts_ms)
