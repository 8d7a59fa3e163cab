"""Roles: a member reads only their own data and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from tests.api.conftest import Api
from tests.api.factories import build_worked_example

# Logging in and out concern the caller's own token, not the data of record.
OWN_TOKEN = {"/auth/token", "/auth/logout"}


def _mutating_routes(api: Api) -> list[tuple[str, str]]:
    routes = []
    paths = api.client.get("/openapi.json").json()["paths"]
    for path, operations in sorted(paths.items()):
        if path in OWN_TOKEN:
            continue
        for method in sorted(set(operations) - {"get", "head", "options"}):
            routes.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    return routes


def test_member_cannot_change_anything(api: Api) -> None:
    ids = build_worked_example(api)
    api.ok("treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]})
    api.add_user("alice", "member", "A")
    routes = _mutating_routes(api)
    assert len(routes) >= 15  # the check covers every change the API offers
    before = api.counts()
    for method, path in routes:
        response = api.call("alice", method, path, json={})
        assert response.status_code == 403, (method, path, response.status_code, response.text)
    assert api.counts() == before


def test_member_reads_only_own_statement_and_sessions(api: Api) -> None:
    ids = build_worked_example(api)
    run = api.ok(
        "treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]}
    )
    api.add_user("alice", "member", "A")
    a, b = ids["members"]["A"], ids["members"]["B"]
    own = api.call("alice", "GET", f"/splits/{run['id']}/statements/{a}")
    assert own.status_code == 200 and own.json()["member"]["code"] == "A"
    for path in (
        f"/splits/{run['id']}/statements/{b}",
        f"/splits/{run['id']}/statements/{b}/pdf",
        f"/splits/{run['id']}",
        f"/splits/{run['id']}/csv",
        f"/sessions?member_id={b}",
        f"/members/{b}",
        "/members",
        "/audit",
    ):
        response = api.call("alice", "GET", path)
        assert response.status_code == 403, (path, response.status_code)
        assert "B" not in {v for v in _codes(response.json())}
    mine = api.ok("alice", "GET", "/me/statements")
    assert [s["member_id"] for s in mine] == [a]


def _codes(body: object) -> list[str]:
    return [body["code"]] if isinstance(body, dict) and "code" in body else []


@pytest.mark.parametrize("path", ["/members", "/splits/preview", "/bills"])
def test_no_token_no_data(api: Api, path: str) -> None:
    method = "POST" if path == "/splits/preview" else "GET"
    assert api.client.request(method, path, json={}).status_code == 401
    bad = api.client.request(method, path, json={}, headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401


def test_roles_split_the_work(api: Api) -> None:
    # A coordinator enrols people but does not enter bills; a treasurer the reverse.
    member = api.call("coordinator", "POST", "/members", json={"code": "Z", "name": "Zed"})
    assert member.status_code == 201
    tariff = api.call(
        "coordinator", "POST", "/tariffs", json={"name": "t", "bands": [{"name": "all"}]}
    )
    assert tariff.status_code == 403
    assert (
        api.call("treasurer", "POST", "/members", json={"code": "Y", "name": "Y"}).status_code
        == 403
    )
    assert (
        api.call(
            "treasurer", "POST", "/devices", json={"name": "n1", "role": "machine"}
        ).status_code
        == 403
    )


def test_passwords_and_tokens_never_leave_the_server(api: Api) -> None:
    created = api.ok(
        "admin",
        "POST",
        "/users",
        json={"username": "bob", "password": "bob-secret-1", "role": "treasurer"},
    )
    assert set(created) == {"id", "username", "role", "member_id", "active"}
    listing = api.call("admin", "GET", "/users").text
    audit = api.call("admin", "GET", "/audit").text
    for text in (listing, audit):
        assert "scrypt$" not in text and "bob-secret-1" not in text
        assert api.tokens["admin"] not in text


def test_expired_token_is_refused(make_api: Callable[..., Api]) -> None:
    api = make_api(token_minutes=0)  # every token is born expired
    response = api.call("admin", "GET", "/members")
    assert response.status_code == 401 and "invalid token" in response.json()["detail"]


def test_deactivated_login_loses_its_token(api: Api) -> None:
    api.add_user("carol", "coordinator")
    assert api.call("carol", "GET", "/members").status_code == 200
    carol = next(u for u in api.ok("admin", "GET", "/users") if u["username"] == "carol")
    api.ok("admin", "PATCH", f"/users/{carol['id']}", json={"active": False})
    assert api.call("carol", "GET", "/members").status_code == 401
    login = api.client.post("/auth/token", json={"username": "carol", "password": "carol-password"})
    assert login.status_code == 401
    refused = api.call("admin", "PATCH", f"/users/{carol['id']}", json={"role": "member"})
    assert refused.status_code == 409 and "member_id" in refused.json()["detail"]
