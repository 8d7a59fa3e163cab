"""InfluxQL quoting, checked by the real InfluxDB reading what it quotes."""

from __future__ import annotations

from datetime import UTC, datetime

from devservers import InfluxDB
from timeseries import quote_ident, quote_string, rfc3339, time_range

T0 = 1764000000000


def test_quoted_names_and_strings_find_what_was_written(influxdb: InfluxDB) -> None:
    client = influxdb.client()
    # Quotes and backslashes are plain characters in line-protocol names and tag values.
    measurement, owner = 'we"ird', "o'neil\\x"
    client.write_lines([f"{measurement},owner={owner} f=1i {T0}",
                        f"{measurement},owner=other f=2i {T0}"])
    found = client.query(f"SELECT {quote_ident('f')} FROM {quote_ident(measurement)} "
                         f"WHERE {quote_ident('owner')} = {quote_string(owner)}")
    assert [row["f"] for row in found[0].rows] == [1]


def test_time_literals() -> None:
    assert time_range(5, 10) == "time > 5ms AND time <= 10ms"
    assert rfc3339(datetime(2025, 11, 24, 17, 0, 1, 500, tzinfo=UTC)) == "2025-11-24T17:00:01Z"
