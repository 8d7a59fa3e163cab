"""What the schema-driven fuzz (test_api_fuzz.py) found answering 5xx, one test each,
against a real InfluxDB: each must now be a 2xx or a 4xx naming the problem."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from devservers import InfluxDB
from tests.api.conftest import SITE, Api
from tests.api.influx_data import session_lines


@pytest.fixture
def with_influx(influxdb: InfluxDB, make_api: Callable[..., Api]) -> Iterator[Api]:
    influxdb.write(
        session_lines(SITE, "node1", 1, "0123456789abcdef", "2026-01-05T10:00:00",
                      "2026-01-05T11:00:00", 1)
    )  # fmt: skip
    reader = influxdb.client()
    yield make_api(influx=reader)
    reader.close()


@pytest.mark.parametrize(
    "query",
    [
        # InfluxDB refused these time literals ("overflows/underflows time literal",
        # "time and *influxql.BinaryExpr are not compatible"): 503 before.
        "start=7574-06-24T14:15:11.5Z&end=8286-10-29T05:19:30%2B11:59",
        "end=1033-09-30T20:46:42.1Z",
        "start=0216-06-25T16:25:36Z",
        "start=0001-01-01T00:00:00%2B14:00",
        "end=0001-01-05T00:00:00Z",
        "start=9999-12-31T23:59:59-23:59",
    ],
)
def test_sessions_far_outside_node_time_are_an_answer_not_a_503(
    with_influx: Api, query: str
) -> None:
    response = with_influx.call("admin", "GET", f"/sessions?{query}")
    assert response.status_code == 200, response.text
    sessions = response.json()
    # Only the window from 2020 on reaches InfluxDB's one session.
    assert len(sessions) == (1 if query.startswith("start=0") else 0), sessions


def test_sessions_with_the_end_before_the_start_are_refused(with_influx: Api) -> None:
    response = with_influx.call(
        "admin", "GET", "/sessions?start=2026-02-01T00:00:00Z&end=2026-01-01T00:00:00Z"
    )
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "end 2026-01-01T00:00:00+00:00 is not after start 2026-02-01T00:00:00+00:00"
    )
