"""Closing a bill sends its latest split to the members for good: refused
without a split, and over a held split unless the treasurer overrides the
hold with a reason, which lands in the audit log with the closing. A refused
close changes nothing. Over HTTP and through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.db import make_engine, make_sessionmaker
from api.models import AuditEntry
from tests.api.conftest import Api
from tests.api.factories import build_worked_example, worked_example
from tests.api.test_cli import _bill_file, counts, ok, run

REASON = "main meter replaced on the 12th; the supplier's bill is right"


def _held_readings(manual: dict[str, Any]) -> dict[str, Any]:
    """A's peak kWh raised: 2,200 attributed of 2,000 billed, beyond the tolerance."""
    metered = {**manual["metered_kwh"], "A": {"peak": "1500", "offpeak": "100"}}
    return {**manual, "metered_kwh": metered}


def _audit_after(api: Api, mark: int) -> list[AuditEntry]:
    with api.session() as session:
        query = select(AuditEntry).where(AuditEntry.id > mark).order_by(AuditEntry.id)
        return list(session.scalars(query))


def _last_audit_id(api: Api) -> int:
    with api.session() as session:
        return session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0


def _refused(api: Api, bill: int, body: Any, status: int, *words: str) -> str:
    before = api.counts()
    response = api.call("treasurer", "POST", f"/bills/{bill}/close", json=body)
    assert response.status_code == status, response.text
    detail = str(response.json()["detail"])
    for word in words:
        assert word in detail, detail
    assert api.counts() == before
    assert api.ok("treasurer", "GET", f"/bills/{bill}")["closed_at"] is None
    return detail


def test_a_bill_without_a_split_is_not_closed(api: Api) -> None:
    ids = build_worked_example(api)
    _refused(api, ids["bill"], None, 409, "no split", f"run-split {ids['bill']}")


def test_a_held_split_needs_an_override_with_a_reason_which_is_audited(api: Api) -> None:
    ids = build_worked_example(api)
    bill = ids["bill"]
    held = api.ok(
        "treasurer", "POST", f"/bills/{bill}/splits", json={"manual": _held_readings(ids["manual"])}
    )
    assert held["result"]["held"] is True
    hold = next(a["message"] for a in held["result"]["alerts"] if a["hold"])
    detail = _refused(api, bill, None, 409, f"split {held['id']} is held", hold, "override_held")
    assert f"close-bill {bill} --override-held" in detail
    _refused(api, bill, {}, 409, "is held")
    _refused(api, bill, {"override_held": "   "}, 422, "reason")
    _refused(api, bill, {"override_held": REASON, "force": True}, 422, "force")
    api.add_user("alice", "member", "A")
    assert api.ok("alice", "GET", "/me/statements") == []

    mark = _last_audit_id(api)
    closed = api.ok("treasurer", "POST", f"/bills/{bill}/close", json={"override_held": REASON})
    assert closed["closed_at"] is not None
    rows = _audit_after(api, mark)
    assert [(r.action, r.entity, r.entity_id) for r in rows] == [
        ("update", "electricity_bill", bill),
        ("override_held", "electricity_bill", bill),
    ]
    assert all(r.actor == "treasurer" and r.user_id is not None for r in rows)
    assert rows[0].before is not None and rows[0].before["closed_at"] is None
    assert rows[1].after == {"split_id": held["id"], "reason": REASON, "held_because": [hold]}
    # Closed over the hold: the statements are final, the members see them.
    mine = api.ok("alice", "GET", "/me/statements")
    assert [(s["split_id"], s["closed"], s["held"]) for s in mine] == [(held["id"], True, False)]
    a = ids["members"]["A"]
    assert api.ok("alice", "GET", f"/splits/{held['id']}/statements/{a}")["held"] is False
    # And nothing changes it any more.
    again = api.call("treasurer", "POST", f"/bills/{bill}/close", json={"override_held": REASON})
    assert again.status_code == 409 and "was closed" in again.json()["detail"]


def test_an_override_is_refused_when_nothing_is_held(api: Api) -> None:
    ids = build_worked_example(api)
    bill = ids["bill"]
    held = {"manual": _held_readings(ids["manual"])}
    assert api.ok("treasurer", "POST", f"/bills/{bill}/splits", json=held)["result"]["held"]
    fine = api.ok("treasurer", "POST", f"/bills/{bill}/splits", json={"manual": ids["manual"]})
    assert fine["result"]["held"] is False  # the latest split counts, not the held one before
    _refused(api, bill, {"override_held": REASON}, 409, "not held")
    mark = _last_audit_id(api)
    assert api.ok("treasurer", "POST", f"/bills/{bill}/close")["closed_at"] is not None
    assert [r.action for r in _audit_after(api, mark)] == ["update"]


@pytest.fixture
def cli_bill(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> int:
    """The worked example entered through the CLI, with a held split; -> the bill id."""
    scenario = worked_example()
    for member in ("A", "B", "C"):
        ok(capsys, "add-member", member, f"Member {member}")
    for unit in scenario["units"]:
        ok(capsys, "add-unit", unit["id"], unit["area_m2"])
    for lease in scenario["leases"]:
        ok(capsys, "add-lease", lease["unit"], lease["member"], lease["from"], "--end", lease["to"])
    bill = int(ok(capsys, "import-bill", _bill_file(tmp_path))["id"])
    code, _, err = run(capsys, "close-bill", str(bill))
    assert code == 2 and "no split" in err, err
    readings = tmp_path / "held.json"
    manual = {k: scenario[k] for k in ("metered_kwh", "demand_intervals_kw")}
    readings.write_text(json.dumps(_held_readings(manual)))
    ok(capsys, "run-split", str(bill), "--manual", str(readings))
    return bill


def test_cli_close_over_a_hold(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], cli_bill: int
) -> None:
    url = cli_env["API_DATABASE_URL"]
    before = counts(url)
    code, _, err = run(capsys, "close-bill", str(cli_bill))
    assert code == 2 and "is held" in err and '--override-held "<reason>"' in err, err
    code, _, err = run(capsys, "close-bill", str(cli_bill), "--override-held", " ")
    assert code == 2 and "reason" in err, err
    assert counts(url) == before

    closed = ok(capsys, "close-bill", str(cli_bill), "--override-held", REASON)
    assert closed["closed_at"] is not None
    after = counts(url)
    assert after["audit_log"] == before["audit_log"] + 2
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            row = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "override_held")
            ).one()
    finally:
        engine.dispose()
    assert row.actor.startswith("cli:") and row.entity_id == cli_bill
    assert row.after is not None and row.after["reason"] == REASON
    code, _, err = run(capsys, "close-bill", str(cli_bill), "--override-held", REASON)
    assert code == 2 and "was closed" in err
