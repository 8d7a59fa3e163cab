"""The one InfluxDB client against a real InfluxDB 1.6: what it writes reads
back, and each failure comes typed by what the caller should do about it."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from devservers import InfluxDB
from devservers.process import free_port
from timeseries import (
    InfluxClient,
    InfluxPartialWrite,
    InfluxRejected,
    InfluxSettings,
    InfluxUnavailable,
)

T0 = 1764000000000


def test_a_refused_batch_is_told_from_an_unreachable_server(influxdb: InfluxDB) -> None:
    writer = influxdb.client()
    writer.write(b"telemetry,site=a,device=b w=1.5 1764000000000")
    with pytest.raises(InfluxRejected, match="field type conflict"):
        writer.write(b"telemetry,site=a,device=b w=1i 1764000000001")
    wrong = influxdb.settings.model_copy(update={"influx_password": SecretStr("wrong")})
    with pytest.raises(InfluxUnavailable, match="401"):
        InfluxClient(wrong).write(b"x,a=b c=1i 1764000000000")
    influxdb.kill()
    with pytest.raises(InfluxUnavailable, match="ConnectError"):
        writer.write(b"x,a=b c=1i 1764000000000")


def test_a_partial_write_says_some_points_were_stored(influxdb: InfluxDB) -> None:
    client = influxdb.client()
    client.write(f"m,d=a w=1.5 {T0}".encode())
    with pytest.raises(InfluxPartialWrite) as conflict:
        client.write(f"m,d=a w=2i {T0 + 1}\nm,d=a w=2.5 {T0 + 2}".encode())
    assert conflict.value.dropped == 1
    assert "field type conflict" in conflict.value.detail
    # A line that does not parse is refused on its own; InfluxDB counts it apart.
    with pytest.raises(InfluxPartialWrite) as unparsable:
        client.write(f"m,d=a w=3.5 {T0 + 3}\nnot a line\nm,d=a w=4.5 {T0 + 4}".encode())
    assert unparsable.value.dropped == 0
    assert influxdb.count("m", "w") == 4
    # Nothing of this batch could be stored: refused, not partial.
    with pytest.raises(InfluxRejected) as refused:
        client.write(b"not a line")
    assert not isinstance(refused.value, InfluxPartialWrite)
    assert influxdb.count("m", "w") == 4


def test_write_lines_cuts_batches_and_counts_what_it_wrote(influxdb: InfluxDB) -> None:
    client = influxdb.client()
    lines = (f"m,d=node{n % 3} seq={n}i {T0 + n}" for n in range(12))
    assert client.write_lines(lines, batch_lines=5) == 12
    assert influxdb.count("m", "seq") == 12
    nowhere = InfluxClient(InfluxSettings(influx_url=f"http://127.0.0.1:{free_port()}"))
    assert nowhere.write_lines([]) == 0  # no request for nothing


def test_query_times_rows_and_refusals(influxdb: InfluxDB) -> None:
    client = influxdb.client()
    client.write_lines([f"m,d=a w=1.5,s=\"x\" {T0}", f"m,d=b w=2.5,s=\"y\" {T0 + 1000}"])
    grouped = client.query('SELECT "w", "s" FROM "m" GROUP BY "d"')
    assert [(s.name, s.tags) for s in grouped] == [("m", {"d": "a"}), ("m", {"d": "b"})]
    assert grouped[1].rows == [{"time": T0 + 1000, "w": 2.5, "s": "y"}]
    assert client.query('SELECT "w" FROM "m"', epoch="s")[0].values[0][0] == T0 // 1000
    assert client.query('SELECT "w" FROM "m"', epoch=None)[0].values[0][0] == (
        "2025-11-24T16:00:00Z"
    )
    assert client.query('SELECT "w" FROM "nothing"') == []
    raw = json.loads(client.query_raw('SELECT "w" FROM "m"'))
    assert raw["results"][0]["series"][0]["values"][0] == [T0, 1.5]
    with pytest.raises(InfluxRejected, match="error parsing query"):
        client.query("SELEC w FROM m")
    elsewhere = influxdb.settings.model_copy(update={"influx_database": "nope"})
    with pytest.raises(InfluxRejected, match="database not found"):
        InfluxClient(elsewhere).query('SELECT "w" FROM "m"')
    with pytest.raises(InfluxUnavailable, match="404"):
        InfluxClient(elsewhere).write(f"m w=1 {T0}".encode())


def test_execute_changes_the_server(influxdb: InfluxDB) -> None:
    client = influxdb.client()
    client.execute('CREATE DATABASE "spare"')
    databases = client.query("SHOW DATABASES")[0].values
    assert ["spare"] in databases
