"""Bad input gets a 4xx that names the problem, and nothing is stored."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.factories import build_worked_example, worked_example


def _bill(ids: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tariff_id": ids["tariff"],
        "period_start": "2026-02-01",
        "period_end": "2026-02-28",
        "bands": [
            {"name": "peak", "kwh": "2000", "cost": "600.00"},
            {"name": "offpeak", "kwh": "1000", "cost": "200.00"},
        ],
        "demand_cost": "400.00",
        "fixed_cost": "51.11",
    }
    body.update(changes)
    return body


BAD_BILLS = {
    "negative cost": (
        {
            "bands": [
                {"name": "peak", "kwh": "2000", "cost": "-600.00"},
                {"name": "offpeak", "kwh": "1000", "cost": "200.00"},
            ]
        },
        ["bands.0.cost", "greater than or equal to 0"],
    ),
    "negative fixed charge": ({"fixed_cost": "-1"}, ["fixed_cost", "greater than or equal to 0"]),
    "unknown band": (
        {
            "bands": [
                {"name": "peak", "kwh": "2000", "cost": "600.00"},
                {"name": "night", "kwh": "1000", "cost": "200.00"},
            ]
        },
        ["unknown band 'night'"],
    ),
    "zero kWh": (
        {
            "bands": [
                {"name": "peak", "kwh": "0", "cost": "0"},
                {"name": "offpeak", "kwh": "0", "cost": "0"},
            ]
        },
        ["zero kWh"],
    ),
    "period backwards": ({"period_end": "2026-01-15"}, ["before it starts"]),
    "unknown tariff": ({"tariff_id": 999}, ["tariff 999 not found"]),
    "cost with a third decimal": (
        {"fixed_cost": "51.111"},
        ["fixed_cost", "decimal places"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_BILLS))
def test_bad_bill_is_refused_and_nothing_stored(api: Api, case: str) -> None:
    ids = build_worked_example(api)
    changes, words = BAD_BILLS[case]
    before = api.counts()
    response = api.call("treasurer", "POST", "/bills", json=_bill(ids, **changes))
    assert 400 <= response.status_code < 500, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, (case, detail)
    assert api.counts() == before
    # The same bill without the fault is accepted: the refusal was for the fault.
    assert api.call("treasurer", "POST", "/bills", json=_bill(ids)).status_code == 201


def test_overlapping_leases_of_one_unit(api: Api) -> None:
    ids = build_worked_example(api)  # C leases U3 from 2026-01-18 to 2026-01-30
    before = api.counts()
    body = {
        "unit_id": ids["units"]["U3"],
        "member_id": ids["members"]["A"],
        "start": "2026-01-25",
        "end": "2026-02-10",
    }
    response = api.call("treasurer", "POST", "/leases", json=body)
    assert response.status_code == 409
    assert "U3" in response.json()["detail"] and "overlaps" in response.json()["detail"]
    assert api.counts() == before
    body["start"] = "2026-01-31"
    assert api.call("treasurer", "POST", "/leases", json=body).status_code == 201


def test_lease_ending_before_it_starts(api: Api) -> None:
    ids = build_worked_example(api)
    before = api.counts()
    body = {
        "unit_id": ids["units"]["V"],
        "member_id": ids["members"]["A"],
        "start": "2026-03-10",
        "end": "2026-03-01",
    }
    response = api.call("treasurer", "POST", "/leases", json=body)
    assert response.status_code == 422 and "before it starts" in response.json()["detail"]
    assert api.counts() == before


SCENARIO_FAULTS = {
    "lease outside the period": (
        lambda s: s["leases"][2].update({"to": "2026-02-05"}),
        "outside the period",
    ),
    "overlapping leases": (
        lambda s: s["leases"].append(
            {"member": "C", "unit": "U1", "from": "2026-01-10", "to": "2026-01-12"}
        ),
        "leased twice",
    ),
    "negative cost": (lambda s: s["bill"]["bands"][0].update({"cost": "-600.00"}), "negative"),
    "unknown band": (
        lambda s: s["metered_kwh"]["A"].update({"night": "5"}),
        "unknown band 'night'",
    ),
    "bill of zero kWh": (
        lambda s: [b.update({"kwh": "0", "cost": "0"}) for b in s["bill"]["bands"]],
        "zero kWh",
    ),
}


@pytest.mark.parametrize("case", sorted(SCENARIO_FAULTS))
def test_preview_names_the_problem(api: Api, case: str) -> None:
    scenario = copy.deepcopy(worked_example())
    change, words = SCENARIO_FAULTS[case]
    change(scenario)
    before = api.counts()
    response = api.call("treasurer", "POST", "/splits/preview", json=scenario)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]
    assert api.counts() == before


def test_split_with_unknown_band_in_readings_stores_no_run(api: Api) -> None:
    ids = build_worked_example(api)
    manual = copy.deepcopy(ids["manual"])
    manual["metered_kwh"]["A"]["night"] = "10"
    before = api.counts()
    response = api.call(
        "treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": manual}
    )
    assert response.status_code == 422 and "unknown band 'night'" in response.json()["detail"]
    assert api.counts() == before


def test_unknown_fields_and_malformed_ids(api: Api) -> None:
    before = api.counts()
    typo = api.call(
        "admin", "POST", "/members", json={"code": "Q", "name": "Q", "cost_center": "x"}
    )
    assert typo.status_code == 422 and "cost_center" in typo.json()["detail"]
    spaces = api.call("admin", "POST", "/members", json={"code": "has space", "name": "Q"})
    assert spaces.status_code == 422 and "code" in spaces.json()["detail"]
    badge = api.call("admin", "POST", "/badges", json={"member_id": 1, "uid": "zz:11"})
    assert badge.status_code == 422 and "uid" in badge.json()["detail"]
    assert api.counts() == before
