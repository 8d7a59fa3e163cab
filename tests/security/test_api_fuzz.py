"""A schema-driven fuzz of the whole api: schemathesis generates requests from the api's
own OpenAPI description, valid ones and invalid ones, for every operation, and sends them
over HTTP with an admin's token to the api on a real SQLite database (with the worked
example entered) and a real InfluxDB. No answer may be a 5xx.

Bounded and repeatable: a fixed number of examples per operation, derandomized."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy import select

from api.main import create_app
from api.models import ApiToken, User
from api.security import new_token, token_digest
from devservers import InfluxDB
from devservers.asgi import ThreadedApp
from tests.api.conftest import SITE, Api, make_settings
from tests.api.factories import build_worked_example
from tests.api.influx_data import session_lines

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 12}


@dataclass
class Target:
    url: str
    app: Any
    secret_key: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    token: str = ""

    def admin_token(self) -> str:
        """A fresh token of an active admin: a fuzzed PATCH /users or logout may have
        taken the previous one away; minted in the database, no scrypt per case."""
        token = new_token()
        with self.app.state.sessionmaker() as session, session.begin():
            admin = session.scalar(select(User).where(User.username == "admin"))
            assert admin is not None
            admin.active, admin.role = True, "admin"
            session.add(
                ApiToken(
                    user_id=admin.id,
                    token_hash=token_digest(token, self.secret_key),
                    expires_at=datetime.now(UTC) + timedelta(hours=1),
                )
            )
        self.token = token
        return token


@pytest.fixture
def target(tmp_path: Path, influxdb: InfluxDB) -> Iterator[Target]:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    settings_ = make_settings(url, influx_url=influxdb.url)
    # The worked example through the api, so that fuzzed ids meet real rows.
    with TestClient(create_app(settings_)) as client:
        api = Api(client)
        api.add_user("admin", "admin")
        api.add_user("treasurer", "treasurer")
        ids = build_worked_example(api)
        api.ok("treasurer", "POST", f"/bills/{ids['bill']}/splits", json={"manual": ids["manual"]})
        device = api.ok("admin", "POST", "/devices", json={"name": "node1", "role": "machine"})
        machine = {"code": "laser", "rated_power_w": 2000, "device_id": device["id"]}
        machine_id = api.ok("admin", "POST", "/machines", json=machine)["id"]
        member = ids["members"]["A"]
        api.ok("admin", "POST", "/badges", json={"member_id": member, "uid": "04:0A:0B:0C"})
        api.ok("admin", "POST", "/trainings", json={"member_id": member, "machine_id": machine_id})
    influxdb.write(
        session_lines(SITE, "node1", 1, "0123456789abcdef", "2026-01-05T10:00:00",
                      "2026-01-05T11:00:00", 1)
    )  # fmt: skip
    reader = influxdb.client()
    app = create_app(settings_, influx=reader)
    with ThreadedApp(app) as served:
        yield Target(served.url, app, settings_.secret_key)
    reader.close()


def _send(target: Target, case: Any) -> httpx.Response | None:
    """The case over HTTP with httpx (schemathesis's own requests transport trips on the
    urllib3-future that grafana-client's niquests installs over urllib3); None when the
    generated request cannot even be put on the wire (a header that is not latin-1)."""
    headers = {"Authorization": f"Bearer {target.token}"}
    request = case.as_transport_kwargs(base_url=target.url, headers=headers)
    body = request.get("data")
    try:
        return target.client.request(
            request["method"],
            request["url"],
            headers=request["headers"],
            params=request["params"],
            cookies=request.get("cookies") or None,
            content=body if isinstance(body, bytes | str) else None,
            data=body if isinstance(body, dict) else None,
        )
    except (httpx.LocalProtocolError, httpx.InvalidURL, UnicodeEncodeError):
        return None


def _fuzz(target: Target, operation: Any, mode: GenerationMode) -> tuple[int, list[str]]:
    """Runs one operation's examples; returns how many were sent, and each 5xx."""
    ran = 0
    found: list[str] = []

    @settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal ran
        response = _send(target, case)
        if response is None:
            return
        ran += 1
        if response.status_code >= 500:
            found.append(
                f"{response.status_code}: {case.as_curl_command()} -> {response.text[:200]}"
            )
        if case.operation.path in ("/users/{user_id}", "/auth/logout"):
            target.admin_token()

    try:
        run()
    except Unsatisfiable:  # nothing to get wrong in a request without parameters or body
        assert mode == GenerationMode.NEGATIVE
    return ran, found


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=str)
def test_no_request_makes_the_api_fail(target: Target, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(target.url + "/openapi.json")
    target.admin_token()
    started = time.monotonic()
    counts: dict[str, int] = {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        ran, found = _fuzz(target, operation, mode)
        counts[operation.label] = ran
        failures += found
    elapsed = time.monotonic() - started
    print(
        f"\nschemathesis {mode}: {sum(counts.values())} requests over {len(counts)} operations"
        f" in {elapsed:.0f} s; 5xx: {len(failures)}"
    )
    assert len(counts) > 40
    if mode == GenerationMode.POSITIVE:
        assert all(n > 0 for n in counts.values()), counts
    else:
        assert sum(n > 0 for n in counts.values()) > 30, counts
    assert not failures, "\n".join(failures)
