"""Bad scenarios are refused with a message that names the field and the problem."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.allocation import ScenarioError, parse_scenario

DATA = Path(__file__).parent / "data" / "worked_example.json"
ROOT = Path(__file__).resolve().parents[2]
Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _append_lease(member: str, unit: str, start: str, end: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        data["leases"].append({"member": member, "unit": unit, "from": start, "to": end})

    return edit


CASES: list[tuple[str, Edit, str]] = [
    (
        "negative cost",
        _set("bill/bands/1/cost", "-5.00"),
        "bill.bands[1].cost: negative amount -5.00",
    ),
    (
        "unknown band",
        _set("metered_kwh/A", {"night": "5"}),
        "unknown band 'night' in metered_kwh.A",
    ),
    (
        "lease outside the period",
        _append_lease("D", "V", "2025-12-20", "2026-01-05"),
        "leases[3]: lease 2025-12-20..2026-01-05 outside the period 2026-01-01..2026-01-30",
    ),
    (
        "overlapping leases",
        _append_lease("D", "U2", "2026-01-10", "2026-01-12"),
        "leases[3]: unit U2 leased twice over 2026-01-10..2026-01-12",
    ),
    (
        "zero kWh bill",
        lambda d: [b.update(kwh="0", cost="0.00") for b in d["bill"]["bands"]],
        "bill.bands: bill of zero kWh",
    ),
    ("cost for zero kWh", _set("bill/bands/0/kwh", "0"), "bill.bands[0]: cost 600.00 for zero kWh"),
    (
        "malformed date",
        _set("period/start", "2026-13-01"),
        "period.start: malformed date '2026-13-01'",
    ),
    ("malformed lease date", _set("leases/0/to", "30.01.2026"), "leases[0].to: malformed date"),
    ("malformed amount", _set("bill/fixed", "51,11"), "bill.fixed: malformed amount '51,11'"),
    ("float amount", _set("bill/fixed", 51.11), "bill.fixed: expected a decimal string"),
    ("sub-cent amount", _set("bill/fixed", "51.111"), "bill.fixed: more than 2 decimals"),
    ("negative kWh", _set("metered_kwh/B/peak", "-1"), "metered_kwh.B.peak: negative amount -1"),
    ("unknown method", _set("bill/demand/method", "peak"), "bill.demand.method: unknown method"),
    ("unknown policy", _set("vacancy_policy", "tenant"), "vacancy_policy: unknown policy"),
    ("unknown unit", _set("leases/0/unit", "U9"), "leases[0].unit: unknown unit U9"),
    ("end before start", _set("period/end", "2025-12-01"), "period: end 2025-12-01 before start"),
    ("missing bill", lambda d: d.pop("bill"), "scenario: missing field 'bill'"),
    ("unknown field", _set("bill/discount", "1.00"), "bill: unknown field 'discount'"),
    ("reserved member id", _set("leases/0/member", "base"), "member id 'base' is reserved"),
    (
        "demand without load",
        _set("demand_intervals_kw", [{"A": "0"}]),
        "bill.demand: a demand charge of 400 but no load",
    ),
]


def broken(edit: Edit) -> dict[str, Any]:
    data = copy.deepcopy(json.loads(DATA.read_text()))
    edit(data)
    return data


@pytest.mark.parametrize(("name", "edit", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_names_the_problem(name: str, edit: Edit, message: str) -> None:
    from api.allocation import allocate

    with pytest.raises(ScenarioError) as caught:
        allocate(parse_scenario(broken(edit)))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        c
        for c in CASES
        if c[0]
        in {
            "negative cost",
            "unknown band",
            "lease outside the period",
            "overlapping leases",
            "zero kWh bill",
            "malformed date",
        }
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_cli_exits_2_with_the_message(name: str, edit: Edit, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(broken(edit)))
    done = subprocess.run(
        [sys.executable, "-m", "api.allocate", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("content", "message"), [("{not json", "is not JSON"), (None, "cannot read")]
)
def test_cli_unreadable_file(content: str | None, message: str, tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "api.allocate", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
