"""The dashboard JSON against the Grafana Foundation SDK's dashboard models
(grafana-foundation-sdk, maintained by Grafana Labs, generated from Grafana's
own schema): every key we write must be one the models know, so a parse and
re-encode keeps all of it. The SDK parses without validating types, so a few
structural checks Grafana relies on are asserted here as well."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import ALERTS_DATASOURCE_UID, DATASOURCE_UID, JSON_DIR
from dashboards.build import DASHBOARDS, render

register_default_plugins()
FILES = sorted(JSON_DIR.glob("*.json"))


def _dropped(original: Any, parsed: Any, path: str = "") -> list[str]:
    """Keys or values of `original` that did not survive the SDK round trip."""
    if isinstance(original, dict):
        if not isinstance(parsed, dict):
            return [f"{path}: became {type(parsed).__name__}"]
        out = []
        for key, value in original.items():
            if key not in parsed:
                out.append(f"{path}.{key}")
            else:
                out += _dropped(value, parsed[key], f"{path}.{key}")
        return out
    if isinstance(original, list):
        if not isinstance(parsed, list) or len(parsed) != len(original):
            return [f"{path}: list changed"]
        return [p for i, (a, b) in enumerate(zip(original, parsed, strict=True))
                for p in _dropped(a, b, f"{path}[{i}]")]
    return [] if original == parsed else [f"{path}: {original!r} -> {parsed!r}"]


def roundtrip(board: dict[str, Any]) -> dict[str, Any]:
    parsed = Dashboard.from_json(copy.deepcopy(board))
    result: dict[str, Any] = json.loads(json.dumps(parsed, cls=JSONEncoder))
    return result


def test_five_dashboards_and_files_match_the_builder() -> None:
    assert [f.stem for f in FILES] == sorted(DASHBOARDS)
    for path in FILES:
        assert path.read_text() == render(path.stem), f"run python -m dashboards.build ({path})"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_sdk_parses_every_key(path: Any) -> None:
    board = json.loads(path.read_text())
    assert _dropped(board, roundtrip(board)) == []


def test_the_check_catches_a_misspelled_key() -> None:
    board = json.loads(FILES[0].read_text())
    board["panels"][0]["gridPoss"] = board["panels"][0].pop("gridPos")
    board["templatingg"] = {}
    assert sorted(_dropped(board, roundtrip(board))) == [".panels[0].gridPoss", ".templatingg"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_structure_grafana_relies_on(path: Any) -> None:
    board = json.loads(path.read_text())
    assert board["uid"].startswith("wm-") and len(board["uid"]) <= 40
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        assert panel["datasource"] in ({"type": "influxdb", "uid": DATASOURCE_UID},
                                       {"type": "influxdb", "uid": ALERTS_DATASOURCE_UID})
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs) and refs
        for t in panel["targets"]:
            assert t["rawQuery"] is True and t["query"].startswith(("SELECT", "SHOW"))
            assert t["datasource"] == panel["datasource"]
