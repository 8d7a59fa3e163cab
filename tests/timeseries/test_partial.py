"""Which lines of a batch InfluxDB refused, against the real InfluxDB 1.6 and a
server answering as 2.x's v1 /write does (tests/timeseries/influx2.py). Every
time the points stored are the lines sent minus the bad ones, the refused
lines are exactly the bad ones, and finding them costs few writes."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from devservers import InfluxDB
from tests.timeseries.influx2 import Influx2
from timeseries import (
    InfluxClient,
    InfluxPartialWrite,
    InfluxRejected,
    InfluxSettings,
    InfluxUnavailable,
    write_sorted,
)

T0 = 1764000000000
SENT = 1000


class Counting(InfluxClient):
    """The store's client, counting its write requests."""

    writes = 0

    def write(self, body: bytes) -> None:
        self.writes += 1
        super().write(body)


@pytest.fixture
def influx2() -> Iterator[Influx2]:
    with Influx2() as server:
        yield server


def settings_of(server: Influx2) -> InfluxSettings:
    return InfluxSettings(influx_url=server.url, influx_database=server.database)


def good(n: int) -> str:
    return f"m,d=node{n % 4} w={n}.5,seq={n}i {T0 + n}"


def conflicting(n: int) -> str:
    """`w` as an integer where it is stored as a float."""
    return f"m,d=node{n % 4} w={n}i,seq={n}i {T0 + n}"


def batch(bad: dict[int, str]) -> list[str]:
    return [bad.get(n, good(n)) for n in range(SENT)]


def body(lines: list[str]) -> bytes:
    return "\n".join(lines).encode()


def halving_bound(bad: int) -> int:
    """The batch, then two writes per level of halving for each bad line."""
    return 1 + 2 * bad * math.ceil(math.log2(SENT))


def test_unparsable_lines_are_quoted_by_1x_and_refused_alone(influxdb: InfluxDB) -> None:
    client = Counting(influxdb.settings)
    bad = {500: "m,d=node0 w= 1764", 501: "m,d=node1 w=1.5,seq=1i soon"}
    lines = batch(bad)
    refused = write_sorted(client, body(lines))
    assert sorted(r.line for r in refused) == sorted(text.encode() for text in bad.values())
    assert {r.error for r in refused} == {
        "unable to parse: missing field value", "unable to parse: bad timestamp"
    }
    assert influxdb.count("m", "seq") == SENT - len(bad)
    # InfluxDB 1.x names every line it could not parse: the batch, then the rest again.
    assert client.writes == 2


def test_an_unbalanced_quote_swallows_the_next_lines_in_1x_and_they_are_stored(
    influxdb: InfluxDB,
) -> None:
    """InfluxDB reads a newline inside quotes as part of the string: the
    broken line and every line after it fail as one."""
    client = Counting(influxdb.settings)
    bad = {100: 'm,d=node1 s="it\'s\': unbalanced,seq=1i 1'}
    with pytest.raises(InfluxPartialWrite) as first:
        client.write(body(batch(bad)))
    assert good(SENT - 1) in first.value.detail  # quoted as part of line 100
    assert influxdb.count("m", "seq") == 100
    refused = write_sorted(client, body(batch(bad)))
    assert [r.line for r in refused] == [bad[100].encode()]
    assert influxdb.count("m", "seq") == SENT - 1
    assert client.writes <= 1 + halving_bound(1)


def test_type_conflicts_are_found_by_halving(influxdb: InfluxDB) -> None:
    influxdb.write([f"m,d=seed w=1.5 {T0 - 1}"])
    client = Counting(influxdb.settings)
    bad = {n: conflicting(n) for n in (3, 400, 999)}
    refused = write_sorted(client, body(batch(bad)))
    assert sorted(r.line for r in refused) == sorted(text.encode() for text in bad.values())
    assert all("field type conflict" in r.error for r in refused)
    assert influxdb.count("m", "seq") == SENT - len(bad)
    assert client.writes <= halving_bound(len(bad))


def test_a_conflict_hides_a_parse_error_in_1x_and_both_are_found(influxdb: InfluxDB) -> None:
    influxdb.write([f"m,d=seed w=1.5 {T0 - 1}"])
    client = Counting(influxdb.settings)
    bad = {10: conflicting(10), 700: "not a line"}
    with pytest.raises(InfluxPartialWrite, match="field type conflict") as first:
        client.write(body(batch(bad)))
    assert "unable to parse" not in first.value.detail
    refused = write_sorted(client, body(batch(bad)))
    assert sorted(r.line for r in refused) == sorted(text.encode() for text in bad.values())
    assert influxdb.count("m", "seq") == SENT - len(bad)


def test_a_batch_refused_whole_costs_one_write(influxdb: InfluxDB) -> None:
    influxdb.write([f"m,d=seed w=1.5 {T0 - 1}"])
    client = Counting(influxdb.settings)
    lines = [conflicting(n) for n in range(SENT)]
    refused = write_sorted(client, body(lines))
    assert [r.line for r in refused] == [text.encode() for text in lines]
    assert client.writes == 1  # dropped=1000 of 1000: nothing to look for
    assert influxdb.count("m", "seq") == 0


def test_influxdb_2_answers_422_for_a_partial_write_and_only_the_bad_line_is_refused(
    influx2: Influx2,
) -> None:
    client = Counting(settings_of(influx2))
    client.write(body([f"m,d=seed w=1.5 {T0 - 1}"]))
    with pytest.raises(InfluxPartialWrite, match="failure writing points") as partial:
        client.write(body([conflicting(1), good(2)]))
    assert partial.value.dropped == 1
    assert influx2.count("m") == 2  # the seed and good(2): a partial write stores the rest

    bad = {n: conflicting(n) for n in (17, 600)}
    refused = write_sorted(client, body(batch(bad)))
    assert sorted(r.line for r in refused) == sorted(text.encode() for text in bad.values())
    assert all("field type conflict" in r.error for r in refused)
    assert influx2.count("m") == 1 + SENT - len(bad)


def test_influxdb_2_refuses_a_whole_batch_for_one_unparsable_line_and_the_rest_is_written(
    influx2: Influx2,
) -> None:
    client = Counting(settings_of(influx2))
    bad = {0: "not a line", 999: "m,d=x w=1.5 soon"}
    with pytest.raises(InfluxRejected) as refused_whole:
        client.write(body(batch(bad)))
    assert not isinstance(refused_whole.value, InfluxPartialWrite)
    assert influx2.count("m") == 0
    refused = write_sorted(client, body(batch(bad)))
    assert sorted(r.line for r in refused) == sorted(text.encode() for text in bad.values())
    assert influx2.count("m") == SENT - len(bad)


def test_a_batch_over_the_servers_size_limit_is_written_in_halves(influx2: Influx2) -> None:
    lines = batch({})
    influx2.max_body = len(body(lines)) // 3
    client = Counting(settings_of(influx2))
    assert write_sorted(client, body(lines)) == []
    assert influx2.count("m") == SENT
    # One line alone above the limit is refused, and only it.
    huge = f'm,d=node0 s="{"x" * influx2.max_body}",seq=1i {T0 - 5}'
    refused = write_sorted(client, body([good(SENT), huge, good(SENT + 1)]))
    assert [r.line for r in refused] == [huge.encode()]
    assert "too large" in refused[0].error
    assert influx2.count("m") == SENT + 2


def test_influxdb_gone_while_sorting_is_unavailable(influx2: Influx2) -> None:
    server = influx2

    class Fading(InfluxClient):
        """InfluxDB stops right after refusing part of the first write."""

        def write(self, body: bytes) -> None:
            try:
                super().write(body)
            finally:
                server.__exit__(None, None, None)

    client = Fading(settings_of(server))
    client_seed = InfluxClient(settings_of(server))
    client_seed.write(body([f"m,d=seed w=1.5 {T0 - 1}"]))
    with pytest.raises(InfluxUnavailable):
        write_sorted(client, body(batch({5: conflicting(5)})))
