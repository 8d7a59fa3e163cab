"""Every panel's query, expanded the way Grafana expands it, runs against the
real InfluxDB filled with a building's data and returns data of the shape its
panel draws; the overview's figures are the ones the data says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboards import ALERTS_DATASOURCE_UID, DATASOURCE_UID, JSON_DIR
from devservers import InfluxDB
from tests.dashboards.building import END, fill
from tests.dashboards.grafana_macros import expand
from timeseries import InfluxClient, Series

BOARDS = {p.stem: json.loads(p.read_text()) for p in sorted(JSON_DIR.glob("*.json"))}
UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


# A query goes to the database of its data source (dashboards/provisioning).
Sources = dict[str, InfluxClient]


@pytest.fixture(scope="module")
def filled(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Sources, dict[str, int]]]:
    server = InfluxDB(Path(tmp_path_factory.mktemp("influx")))
    server.start()
    figures = fill(server)
    sources = {DATASOURCE_UID: server.client(30),
               ALERTS_DATASOURCE_UID: server.client(30, server.alerts_database)}
    yield sources, figures
    for source in sources.values():
        source.close()
    server.close()


def _source(sources: Sources, target: dict[str, Any]) -> InfluxClient:
    return sources[target["datasource"]["uid"]]


def _range(board: dict[str, Any]) -> tuple[int, int]:
    text = board["time"]["from"]  # "now-24h"
    amount, unit = int(text[4:-1]), text[-1]
    return END - amount * UNITS[unit], END


def _variables(board: dict[str, Any], source: InfluxClient) -> dict[str, list[str]]:
    out = {}
    start, end = _range(board)
    for var in board["templating"]["list"]:
        series = source.query(expand(var["query"], start, end))
        out[var["name"]] = sorted(str(v) for s in series for row in s.rows
                                  for k, v in row.items() if k != "time")
        assert out[var["name"]], f"variable {var['name']} lists no device"
    return out


def _numbers(series: list[Series]) -> list[float]:
    return [v for s in series for row in s.rows for k, v in row.items()
            if k != "time" and isinstance(v, int | float) and not isinstance(v, bool)]


def _panels() -> list[tuple[str, dict[str, Any]]]:
    return [(name, panel) for name, board in BOARDS.items() for panel in board["panels"]]


@pytest.mark.parametrize(("board", "panel"), _panels(),
                         ids=[f"{b}:{p['title']}" for b, p in _panels()])
def test_panel_query_returns_its_shape(
    filled: tuple[Sources, dict[str, int]], board: str, panel: dict[str, Any]
) -> None:
    sources, _ = filled
    start, end = _range(BOARDS[board])
    variables = _variables(BOARDS[board], sources[DATASOURCE_UID])
    for target in panel["targets"]:
        series = _source(sources, target).query(expand(target["query"], start, end, variables))
        assert series, f"{panel['title']}: no series for {target['query']}"
        kind = panel["type"]
        if kind == "table":
            assert sum(len(s.rows) for s in series) >= 1
            continue
        numbers = _numbers(series)
        if kind == "stat":
            assert numbers, f"{panel['title']}: no value"
        else:  # timeseries, bars, state-timeline: one line per device, many points
            assert all(s.tags.get("device") for s in series) or len(series) == 1
            assert all(s.rows[0]["time"] >= start - 86_400_000 for s in series)
            assert len(numbers) >= 2, f"{panel['title']}: {len(numbers)} points"


def _stat(sources: Sources, title: str) -> list[float]:
    panel = next(p for p in BOARDS["overview"]["panels"] if p["title"] == title)
    start, end = _range(BOARDS["overview"])
    target = panel["targets"][0]
    return _numbers(_source(sources, target).query(expand(
        target["query"], start, end, _variables(BOARDS["overview"], sources[DATASOURCE_UID]))))


def test_overview_figures_match_the_data(filled: tuple[Sources, dict[str, int]]) -> None:
    sources, figures = filled
    assert _stat(sources, "Devices online") == [figures["devices_online"]]
    assert _stat(sources, "Open alerts") == [figures["open_alerts"]]
    assert _stat(sources, "Machines running") == [figures["machines_running"]]
    assert _stat(sources, "Boiler")[0] in (0, 1)
    assert 10 < _stat(sources, "Zones")[0] < 25
    assert 20 < _stat(sources, "Flow temperature")[0] < 75


def test_the_alert_panels_read_the_alerts_database(
    filled: tuple[Sources, dict[str, int]],
) -> None:
    """...which alone holds the alert states: read from the site's database,
    the same queries find nothing."""
    sources, _ = filled
    alert_panels = [p for board in BOARDS.values() for p in board["panels"]
                    if '"alert"' in p["targets"][0]["query"]]
    assert [p["title"] for p in alert_panels] == ["Open alerts", "Recent alerts"]
    start, end = _range(BOARDS["overview"])
    for panel in alert_panels:
        target = panel["targets"][0]
        assert target["datasource"]["uid"] == ALERTS_DATASOURCE_UID
        assert sources[DATASOURCE_UID].query(expand(target["query"], start, end)) == []
        assert sources[ALERTS_DATASOURCE_UID].query(expand(target["query"], start, end))


def test_recent_alerts_table_lists_newest_first(
    filled: tuple[Sources, dict[str, int]],
) -> None:
    sources, _ = filled
    panel = next(p for p in BOARDS["overview"]["panels"] if p["title"] == "Recent alerts")
    start, end = _range(BOARDS["overview"])
    target = panel["targets"][0]
    rows = _source(sources, target).query(expand(target["query"], start, end))[0].rows
    assert [(r["kind"], r["state"]) for r in rows] == [
        ("heating", "notified"), ("heating", "notified"), ("machine_left_on", "resolved"),
    ]


def test_machine_variable_narrows_the_panels(filled: tuple[Sources, dict[str, int]]) -> None:
    source = filled[0][DATASOURCE_UID]
    panel = next(p for p in BOARDS["machines"]["panels"] if p["title"] == "Power per machine")
    start, end = _range(BOARDS["machines"])
    both = source.query(expand(panel["targets"][0]["query"], start, end,
                               {"machine": ["compressor", "laser1", "boiler1"],
                                "rollup": ["autogen"]}))
    one = source.query(expand(panel["targets"][0]["query"], start, end,
                              {"machine": ["laser1"], "rollup": ["autogen"]}))
    assert sorted(s.tags["device"] for s in both) == ["compressor", "laser1"]
    assert [s.tags["device"] for s in one] == ["laser1"]


@pytest.mark.parametrize(("days", "policy"), [(1, "autogen"), (2, "autogen"), (7, "rollup_15m"),
                                              (30, "rollup_1h"), (365, "rollup_1h")])
def test_rollup_variable_picks_the_policy_for_the_range(
    filled: tuple[Sources, dict[str, int]], days: int, policy: str
) -> None:
    source = filled[0][DATASOURCE_UID]
    variable = BOARDS["heating"]["templating"]["list"][0]
    assert variable["name"] == "rollup"
    found = source.query(expand(variable["query"], END - days * UNITS["d"], END))
    assert [row["first"] for s in found for row in s.rows] == [policy]
    # ...and a line chart drawn from it over the test's two days has its points.
    panel = next(p for p in BOARDS["heating"]["panels"] if p["title"] == "Flow and return")
    series = source.query(expand(panel["targets"][0]["query"], END - 2 * UNITS["d"], END,
                                 {"rollup": [policy]}))
    assert {s.tags["device"] for s in series} == {"boiler1"}
    assert len(_numbers(series)) >= 2


def test_macro_expansion_matches_grafana() -> None:
    q = 'SELECT mean("w") FROM "t" WHERE "device" =~ /^$machine$/ AND $timeFilter ' \
        "GROUP BY time($__interval)"
    day = expand(q, 0, 86_400_000, {"machine": ["a.b", "c"]})
    assert day == ('SELECT mean("w") FROM "t" WHERE "device" =~ /^(a\\.b|c)$/ AND '
                   "time >= 0ms and time <= 86400000ms GROUP BY time(1m)")
    assert "time(20s)" in expand(q, 0, 6 * 3_600_000, {"machine": ["a"]})
    assert "time(10s)" in expand(q, 0, 600_000, {"machine": ["a"]})  # the source's minimum
    with pytest.raises(ValueError, match="unexpanded"):
        expand(q, 0, 1)
