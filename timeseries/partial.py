"""A batch InfluxDB refused in part: which lines it refused, the rest stored.

InfluxDB 1.x answers 400 "partial write: ..." having stored the good lines. It
quotes each line it could not parse ("unable to parse '<line>': <why>",
`dropped=0`), but for a field type conflict it names the field, not the line
(`dropped=<n>`), and when both happen it reports the conflict alone. 2.x and
3.x refuse a whole batch (400) for one unparsable line, quoting the first, and
answer 422 for a partial write. So the refused lines are found by writing
again: quoted lines are set aside at once, a part refused whole (`dropped`
equal to its size) is refused, and any other part is halved until each
refused line stands alone. That is safe because writes are idempotent (a
point is its measurement, tags and time: a stored line written again changes
nothing). One bad line in 5,000 costs about 26 more writes, mostly small."""

from __future__ import annotations

import re
from typing import NamedTuple

from timeseries.client import InfluxClient
from timeseries.errors import InfluxRejected

_QUOTE = "unable to parse '"
_QUOTE_END = "': "
_DROPPED = re.compile(r"\s*dropped=\d+$")


class Refused(NamedTuple):
    line: bytes
    error: str  # InfluxDB's answer to the smallest write that held this line


def write_sorted(client: InfluxClient, body: bytes) -> list[Refused]:
    """Write a batch (lines joined by newlines); returns the lines InfluxDB
    refused, every other line being stored. Raises InfluxUnavailable when
    InfluxDB cannot be asked, meanwhile (the caller retries the whole batch)."""
    try:
        client.write(body)
        return []
    except InfluxRejected as exc:
        first = exc
    lines = [line for line in body.split(b"\n") if line.strip()]
    refused: list[Refused] = []
    _sort(client, lines, first, refused, use_quotes=True)
    return refused


def _sort(client: InfluxClient, lines: list[bytes], exc: InfluxRejected,
          refused: list[Refused], use_quotes: bool) -> None:
    """`lines` were just refused with `exc`: find which of them, store the rest."""
    error = exc.detail
    if len(lines) == 1 or getattr(exc, "dropped", None) == len(lines):
        refused.extend(Refused(line, error) for line in lines)
        return
    quoted = quoted_lines(error, lines) if use_quotes else {}
    if quoted:
        refused.extend(Refused(line, quoted[line]) for line in lines if line in quoted)
        # 1.x quotes every unparsable line; 2.x only the first. Should the rest
        # be refused again, the quotes were not all: halve it instead.
        _write(client, [line for line in lines if line not in quoted], refused, False)
        return
    half = len(lines) // 2
    _write(client, lines[:half], refused, True)
    _write(client, lines[half:], refused, True)


def _write(client: InfluxClient, lines: list[bytes], refused: list[Refused],
           use_quotes: bool) -> None:
    if not lines:
        return
    try:
        client.write(b"\n".join(lines))
    except InfluxRejected as exc:
        _sort(client, lines, exc, refused, use_quotes)


def quoted_lines(error: str, lines: list[bytes]) -> dict[bytes, str]:
    """The lines of `lines` that `error` quotes as unparsable, each with its
    own message. A quoted line may itself hold "': ", so every end is tried;
    a quote that matches no line exactly is ignored (halving finds it)."""
    if _QUOTE not in error:
        return {}
    wanted = set(lines)
    found: dict[bytes, str] = {}
    for entry in error.split(_QUOTE)[1:]:
        end = entry.find(_QUOTE_END)
        while end != -1:
            candidate = entry[:end].encode()
            if candidate in wanted:
                why = entry[end + len(_QUOTE_END):].split("\n", 1)[0]
                found[candidate] = "unable to parse: " + _DROPPED.sub("", why)
                break
            end = entry.find(_QUOTE_END, end + 1)
    return found
