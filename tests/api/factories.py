"""Test data through the HTTP API, as an admin would enter it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.api.conftest import Api

WORKED_EXAMPLE = Path(__file__).resolve().parents[1] / "allocation" / "data" / "worked_example.json"


def worked_example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(WORKED_EXAMPLE.read_text())
    return data


def build_worked_example(api: Api) -> dict[str, Any]:
    """Units, members, leases, tariff and bill of ALLOCATION.md's worked example,
    entered through the API from the scenario file. Returns ids by code."""
    scenario = worked_example()
    ids: dict[str, Any] = {"members": {}, "units": {}}
    members = sorted(
        {lease["member"] for lease in scenario["leases"]} | set(scenario["metered_kwh"])
    )
    for code in members:
        row = api.ok("admin", "POST", "/members", json={"code": code, "name": f"Member {code}"})
        ids["members"][code] = row["id"]
    for unit in scenario["units"]:
        body = {"code": unit["id"], "area_m2": unit["area_m2"]}
        ids["units"][unit["id"]] = api.ok("admin", "POST", "/units", json=body)["id"]
    for lease in scenario["leases"]:
        body = {
            "unit_id": ids["units"][lease["unit"]],
            "member_id": ids["members"][lease["member"]],
            "start": lease["from"],
            "end": lease["to"],
        }
        api.ok("treasurer", "POST", "/leases", json=body)
    bill = scenario["bill"]
    tariff = api.ok(
        "treasurer",
        "POST",
        "/tariffs",
        json={
            "name": "two-band",
            "bands": [{"name": b["name"]} for b in bill["bands"]],
            "demand_method": bill["demand"]["method"],
        },
    )
    ids["tariff"] = tariff["id"]
    ids["bill"] = api.ok(
        "treasurer",
        "POST",
        "/bills",
        json={
            "tariff_id": tariff["id"],
            "period_start": scenario["period"]["start"],
            "period_end": scenario["period"]["end"],
            "bands": [
                {"name": b["name"], "kwh": b["kwh"], "cost": b["cost"]} for b in bill["bands"]
            ],
            "demand_cost": bill["demand"]["cost"],
            "fixed_cost": bill["fixed"],
            "vacancy_policy": scenario.get("vacancy_policy", "owner"),
        },
    )["id"]
    ids["manual"] = {
        "metered_kwh": scenario["metered_kwh"],
        "demand_intervals_kw": scenario["demand_intervals_kw"],
    }
    return ids
