"""ALLOCATION.md's worked example through the HTTP API, to the cent."""

from __future__ import annotations

import csv
import io

from tests.api.conftest import Api
from tests.api.factories import build_worked_example, worked_example

# The figures printed in ALLOCATION.md (Shapley demand, owner vacancy policy).
EXPECTED_TOTALS = {"A": "502.78", "B": "470.56", "C": "133.29"}
EXPECTED_VACANCY = "144.48"
EXPECTED_TOTAL = "1251.11"
EXPECTED_COMMON = {"A": "184.45", "B": "92.22", "C": "39.96"}


def test_preview_gives_the_documented_figures(api: Api) -> None:
    result = api.ok("treasurer", "POST", "/splits/preview", json=worked_example())
    assert {m: s["total"] for m, s in result["members"].items()} == EXPECTED_TOTALS
    assert result["vacancy"] == EXPECTED_VACANCY
    assert result["total"] == EXPECTED_TOTAL
    assert {m: s["pools"]["common"] for m, s in result["members"].items()} == EXPECTED_COMMON


def test_stored_bill_split_statements_csv_and_pdf(api: Api) -> None:
    ids = build_worked_example(api)
    before = api.counts()["allocation_run"]
    run = api.ok(
        "treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]}
    )
    assert api.counts()["allocation_run"] == before + 1
    result = run["result"]
    assert {m: s["total"] for m, s in result["members"].items()} == EXPECTED_TOTALS
    assert result["vacancy"] == EXPECTED_VACANCY and result["total"] == EXPECTED_TOTAL

    # Each member's statement, as that member sees it.
    for code, total in EXPECTED_TOTALS.items():
        api.add_user(f"user-{code}", "member", code)
        member_id = ids["members"][code]
        statement = api.ok(f"user-{code}", "GET", f"/splits/{run['id']}/statements/{member_id}")
        assert statement["total"] == total
        cents = sum(round(float(line["amount"]) * 100) for line in statement["lines"])
        assert cents == round(float(total) * 100)  # the lines add up to the total
        mine = api.ok(f"user-{code}", "GET", "/me/statements")
        assert [s["total"] for s in mine] == [total]
        pdf = api.call(f"user-{code}", "GET", f"/splits/{run['id']}/statements/{member_id}/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"

    exported = api.call("treasurer", "GET", f"/splits/{run['id']}/csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    totals = {r["entry"]: r["amount"] for r in rows if r["pool"] == "total"}
    assert totals == {**EXPECTED_TOTALS, "vacancy": EXPECTED_VACANCY}
    line_cents = sum(round(float(r["amount"]) * 100) for r in rows if r["pool"] != "total")
    assert line_cents == 125111


def test_coincident_peak_method_from_the_tariff(api: Api) -> None:
    scenario = worked_example()
    scenario["bill"]["demand"]["method"] = "coincident_peak"
    result = api.ok("treasurer", "POST", "/splits/preview", json=scenario)
    demand = {m: s["pools"]["demand"] for m, s in result["members"].items()}
    assert demand == {"A": "120.00", "B": "200.00", "C": "0.00"}  # ALLOCATION.md
    assert result["total"] == EXPECTED_TOTAL


def test_closed_bill_keeps_its_splits(api: Api) -> None:
    ids = build_worked_example(api)
    api.ok("treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]})
    api.ok("treasurer", "POST", f"/bills/{ids['bill']}/close")
    before = api.counts()
    again = api.call(
        "treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]}
    )
    assert again.status_code == 409 and "closed" in again.json()["detail"]
    assert api.counts() == before


def test_gas_bill_of_the_same_period_is_split_with_it(api: Api) -> None:
    ids = build_worked_example(api)
    scenario = worked_example()
    gas = {
        "period_start": scenario["period"]["start"],
        "period_end": scenario["period"]["end"],
        "cost": "300.00",
    }
    api.ok("treasurer", "POST", "/gas-bills", json=gas)
    other = {**gas, "period_start": "2025-12-01", "period_end": "2025-12-31", "cost": "999.00"}
    api.ok("treasurer", "POST", "/gas-bills", json=other)  # another period: not this split's
    run = api.ok(
        "treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]}
    )
    result = run["result"]
    assert result["total"] == "1551.11"
    heating = {m: s["pools"].get("heating") for m, s in result["members"].items()}
    assert all(h is not None for h in heating.values())
    vacancy_heating = result["vacancy_statement"]["pools"].get("heating", "0.00")
    cents = sum(round(float(h) * 100) for h in heating.values()) + round(
        float(vacancy_heating) * 100
    )
    assert cents == 30000
    # Electricity shares are unchanged by the gas bill.
    electricity = {
        m: round(float(s["total"]) * 100) - round(float(heating[m]) * 100)
        for m, s in result["members"].items()
    }
    assert electricity == {"A": 50278, "B": 47056, "C": 13329}


def test_held_split_is_not_shown_to_members(api: Api) -> None:
    ids = build_worked_example(api)
    api.add_user("alice", "member", "A")
    over = {
        **ids["manual"],
        "metered_kwh": {**ids["manual"]["metered_kwh"], "A": {"peak": "1500", "offpeak": "100"}},
    }
    held = api.ok("treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": over})
    assert held["result"]["held"] is True  # 2,200 peak kWh attributed, 2,000 billed: beyond 2%
    a = ids["members"]["A"]
    response = api.call("alice", "GET", f"/splits/{held['id']}/statements/{a}")
    assert response.status_code == 409 and "held" in response.json()["detail"]
    assert api.ok("alice", "GET", "/me/statements") == []
    assert api.ok("treasurer", "GET", f"/splits/{held['id']}/statements/{a}")["held"] is True
    fine = api.ok(
        "treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]}
    )
    assert [s["split_id"] for s in api.ok("alice", "GET", "/me/statements")] == [fine["id"]]
