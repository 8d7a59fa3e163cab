"""The worked example of docs/allocation.md, to the cent, through the API and the CLI."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api.allocation import allocate, parse_scenario, split_to_csv, split_to_dict

DATA = Path(__file__).parent / "data" / "worked_example.json"
ROOT = Path(__file__).resolve().parents[2]

TOTALS = {"A": "502.78", "B": "470.56", "C": "133.29"}
DEMAND = {
    "shapley": {"A": "118.33", "B": "168.34", "C": "33.33", "base": "80.00"},
    "coincident_peak": {"A": "120.00", "B": "200.00", "C": "0.00", "base": "80.00"},
}


def example(method: str) -> dict[str, Any]:
    data = json.loads(DATA.read_text())
    data["bill"]["demand"]["method"] = method
    return data


def check_figures(out: dict[str, Any], method: str) -> None:
    pools = out["pools"]
    assert pools["energy"]["entries"] == {
        "A": "200.00", "B": "210.00", "C": "60.00", "common": "330.00"
    }  # fmt: skip
    assert pools["demand"]["entries"] == DEMAND[method]
    assert out["total"] == "1251.11"
    assert not out["held"]
    if method == "shapley":
        assert pools["common"]["total"] == "461.11"
        assert pools["common"]["entries"] == {
            "A": "184.45", "B": "92.22", "C": "39.96", "vacancy": "144.48"
        }  # fmt: skip
        assert {m: v["total"] for m, v in out["members"].items()} == TOTALS
        assert out["vacancy"] == "144.48"


@pytest.mark.parametrize("method", ["shapley", "coincident_peak"])
def test_worked_example_python_api(method: str) -> None:
    out = split_to_dict(allocate(parse_scenario(example(method))))
    check_figures(out, method)
    for statement in out["members"].values():
        assert sum(float(line["amount"]) for line in statement["lines"]) == pytest.approx(
            float(statement["total"])
        )


@pytest.mark.parametrize("method", ["shapley", "coincident_peak"])
def test_worked_example_cli(method: str, tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(example(method)))
    done = subprocess.run(
        [sys.executable, "-m", "api.allocate", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    check_figures(json.loads(done.stdout), method)


def test_worked_example_statement_explains_itself() -> None:
    out = split_to_dict(allocate(parse_scenario(example("shapley"))))
    a = out["members"]["A"]
    assert [line["pool"] for line in a["lines"]] == ["energy"] * 2 + ["demand"] + ["common"] * 3
    peak = a["lines"][0]
    assert (peak["quantity"], peak["price"], peak["amount"], peak["basis"]) == (
        "600", "0.3", "180.00", "measured"
    )  # fmt: skip
    assert a["lines"][3]["key"] == "3,000 of 7,500 m2·days"
    assert "Total 502.78" in a["explanation"]
    assert a["estimated"] is False


def test_csv_export_lists_every_member_and_adds_up() -> None:
    split = allocate(parse_scenario(example("shapley")))
    rows = list(csv.DictReader(io.StringIO(split_to_csv(split))))
    totals = {r["entry"]: r["amount"] for r in rows if r["pool"] == "total"}
    assert totals == {**TOTALS, "vacancy": "144.48"}
    lines = [r for r in rows if r["pool"] != "total"]
    cents = sum(round(float(r["amount"]) * 100) for r in lines)
    assert cents == 125111
