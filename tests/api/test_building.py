"""The routes behind the web app's building and member views: who may read
them, bad input in words, InfluxDB down as a 503 (SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.api.conftest import Api


def test_who_may_read_the_building(api: Api) -> None:
    member = api.ok("admin", "POST", "/members", json={"code": "A", "name": "A"})
    api.add_user("alice", "member", "A")
    for path in ("/building/now", "/building/charts/heating"):
        response = api.call("alice", "GET", path)
        assert response.status_code == 403, path
        assert "needs coordinator, treasurer, admin" in response.json()["detail"]
    # Staff pass the role check and then meet InfluxDB, which is down here: 503 in words.
    for who in ("coordinator", "treasurer", "admin"):
        response = api.call(who, "GET", "/building/now")
        assert response.status_code == 503, (who, response.text)
        assert response.json()["detail"].startswith("InfluxDB unreachable")
    assert member["id"]


def test_chart_names_and_ranges_are_checked(api: Api) -> None:
    response = api.call("coordinator", "GET", "/building/charts/heating", params={"range": "2y"})
    assert response.status_code == 422
    assert response.json()["detail"] == "range must be one of 24h, 7d, 30d, 365d, not '2y'"
    response = api.call("coordinator", "GET", "/building/charts/gas")
    assert response.status_code == 404
    assert response.json()["detail"] == "no chart 'gas'; there are heating, power"


def test_price_and_machines_of_a_member(api: Api) -> None:
    a = api.ok("admin", "POST", "/members", json={"code": "A", "name": "A"})
    api.add_user("alice", "member", "A")
    assert api.ok("alice", "GET", "/me/price") == {"per_kwh": None, "bill_id": None}
    tariff = api.ok("treasurer", "POST", "/tariffs", json={
        "name": "two", "bands": [{"name": "peak", "hours": {"from": "08:00", "to": "20:00"}},
                                 {"name": "offpeak"}]})
    bill = api.ok("treasurer", "POST", "/bills", json={
        "tariff_id": tariff["id"], "period_start": "2026-10-01", "period_end": "2026-10-31",
        "bands": [{"name": "peak", "kwh": "600", "cost": "180.00"},
                  {"name": "offpeak", "kwh": "400", "cost": "80.00"}]})
    assert api.ok("alice", "GET", "/me/price") == {
        "per_kwh": "0.2600", "bill_id": bill["id"],
        "period": {"start": "2026-10-01", "end": "2026-10-31"}}
    # A login with no member has no machines; with InfluxDB down a member still sees
    # what they may use, its state unknown (or out of order: no node behind it).
    assert api.ok("coordinator", "GET", "/me/machines") == []
    kiln = api.ok("admin", "POST", "/machines", json={"code": "kiln", "rated_power_w": 5000})
    node = api.ok("admin", "POST", "/devices", json={"name": "node1", "role": "machine"})
    laser = api.ok("admin", "POST", "/machines", json={"code": "laser", "rated_power_w": 3000,
                                                       "device_id": node["id"]})
    for machine in (kiln, laser):
        api.ok("admin", "POST", "/trainings",
               json={"member_id": a["id"], "machine_id": machine["id"]})
    states = {m["code"]: m["state"] for m in api.ok("alice", "GET", "/me/machines")}
    assert states == {"kiln": "out of order", "laser": "unknown (no live data)"}
