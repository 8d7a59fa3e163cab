"""The api's /alerts routes on the real app (its migrations create the alert
tables) over SQLite and PostgreSQL: filters, evidence, who may acknowledge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts import lifecycle
from alerts.config import LifecycleConfig
from alerts.findings import Finding
from tests.api.conftest import Api, api, database_url, make_api, pg_server

__all__ = ["api", "database_url", "make_api", "pg_server"]  # the api's fixtures, reused

T0 = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
HEATING = Finding(kind="heating", site="ws1", device="boiler1", severity="critical",
                  summary="heating failure at ws1/boiler1: flow fell",
                  evidence=[{"time": 1793602800000, "t_flow": 31.5, "call": 1}])
OFFLINE = Finding(kind="device_offline", site="ws1", device="node2", summary="node2 silent")
LEFT_ON = Finding(kind="machine_left_on", site="ws1", device="laser1", summary="laser1 on")


def _seed(api: Api) -> None:
    """heating notified (fired T0), node2 firing (T0), laser1 resolved (fired T0-1d)."""
    config = LifecycleConfig()
    with api.session() as session:
        lifecycle.apply(session, [LEFT_ON], T0 - timedelta(days=1), config, ["email"])
        ids = lifecycle.apply(session, [HEATING, OFFLINE], T0, config, ["email"]).deliveries
        lifecycle.record_attempt(session, ids[0], None, T0 + timedelta(seconds=2), final=True)


def _ids(rows: list[dict[str, object]]) -> list[object]:
    return [(r["kind"], r["state"]) for r in rows]


def test_list_filters_and_detail(api: Api) -> None:
    _seed(api)
    assert _ids(api.ok("coordinator", "GET", "/alerts")) == [
        ("device_offline", "firing"), ("heating", "notified"), ("machine_left_on", "resolved"),
    ]
    assert _ids(api.ok("treasurer", "GET", "/alerts", params={"state": "open"})) == [
        ("device_offline", "firing"), ("heating", "notified"),
    ]
    assert _ids(api.ok("admin", "GET", "/alerts", params={"state": "resolved"})) == [
        ("machine_left_on", "resolved"),
    ]
    assert _ids(api.ok("admin", "GET", "/alerts", params={"kind": "heating"})) == [
        ("heating", "notified"),
    ]
    assert _ids(api.ok("admin", "GET", "/alerts", params={"device": "node2"})) == [
        ("device_offline", "firing"),
    ]
    since = api.ok("admin", "GET", "/alerts", params={"since": "2026-11-02T06:00:00Z"})
    assert {r["kind"] for r in since} == {"heating", "device_offline"}
    assert len(api.ok("admin", "GET", "/alerts", params={"limit": 1})) == 1

    heating = api.ok("admin", "GET", "/alerts", params={"kind": "heating"})[0]
    detail = api.ok("coordinator", "GET", f"/alerts/{heating['id']}")
    assert detail["evidence"] == [{"time": 1793602800000, "t_flow": 31.5, "call": 1}]
    assert detail["fired_at"].startswith("2026-11-02T07:00:00") and (
        detail["fired_at"].endswith(("Z", "+00:00")))
    assert [(d["channel"], d["event"], d["status"]) for d in detail["deliveries"]] == [
        ("email", "fired", "sent"),
    ]


def test_bad_filters_are_refused_with_the_reason(api: Api) -> None:
    _seed(api)
    bad = api.call("admin", "GET", "/alerts", params={"state": "burning"})
    assert bad.status_code == 422 and "firing, notified, acknowledged, resolved" in bad.text
    naive = api.call("admin", "GET", "/alerts", params={"since": "2026-11-02T06:00:00"})
    assert naive.status_code == 422 and "time zone" in naive.text
    assert api.call("admin", "GET", "/alerts/99999").status_code == 404
    assert api.client.get("/alerts").status_code == 401


def test_only_coordinator_or_admin_acknowledge_and_it_records_who(api: Api) -> None:
    _seed(api)
    heating = api.ok("admin", "GET", "/alerts", params={"kind": "heating"})[0]
    path = f"/alerts/{heating['id']}/acknowledge"
    api.add_user("member1", "member")
    before = api.counts()
    for who in ("member1", "treasurer"):
        response = api.call(who, "POST", path)
        assert response.status_code == 403, (who, response.text)
    assert api.counts() == before
    assert api.ok("admin", "GET", f"/alerts/{heating['id']}")["state"] == "notified"

    acked = api.ok("coordinator", "POST", path)
    after = api.counts()
    assert {t: after[t] - before[t] for t in after if after[t] != before[t]} == {
        "audit_log": 1}
    assert (acked["state"], acked["acknowledged_by"]) == ("acknowledged", "coordinator")
    assert acked["acknowledged_at"] is not None
    again = api.call("admin", "POST", path)
    assert again.status_code == 409 and "acknowledged by coordinator" in again.text
    resolved = api.ok("admin", "GET", "/alerts", params={"state": "resolved"})[0]
    late = api.call("admin", "POST", f"/alerts/{resolved['id']}/acknowledge")
    assert late.status_code == 409 and "already resolved" in late.text
    assert api.call("admin", "POST", "/alerts/99999/acknowledge").status_code == 404
