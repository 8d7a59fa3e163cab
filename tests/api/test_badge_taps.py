"""Enrolling the card just tapped on a node: the node refused it and reported its
hash in a `badge` event (stored by the gateway in InfluxDB, here planted in a
real InfluxDB the same way); the api enrols the newest such unknown card."""

from __future__ import annotations

import time
from collections.abc import Callable

from devservers import InfluxDB
from tests.api.conftest import SITE, Api
from timeseries.lines import int_field, line, string_field, tag_suffix

TAPPED, OLDER, KNOWN = "a1b2c3d4e5f60718", "0102030405060708", "ffeeddccbbaa9988"


def tap(device: str, badge: str, at_ms: int, seq: int) -> str:
    tags = tag_suffix(("site", SITE), ("device", device), ("kind", "badge"))
    fields = {"seq": int_field(seq), "badge": string_field(badge), "ok": "false",
              "reason": string_field("not_allowed")}
    return line("event", tags, fields, at_ms)


def test_the_card_just_tapped_is_enrolled(
    influxdb: InfluxDB, make_api: Callable[..., Api]
) -> None:
    reader = influxdb.client()
    api = make_api(influx=reader)
    member = api.ok("admin", "POST", "/members", json={"code": "D", "name": "Dora"})
    api.ok("admin", "POST", "/devices", json={"name": "node1", "role": "machine"})
    now = int(time.time() * 1000)
    influxdb.write([
        tap("node1", OLDER, now - 10 * 60_000, 1),  # too long ago
        tap("node1", TAPPED, now - 60_000, 2),
        tap("node2", KNOWN, now - 30_000, 1),  # another node's tap
    ])
    body = {"member_id": member["id"], "device": "node1", "holder": "Dora"}
    api.add_user("dora", "member", "D")
    for who in ("dora", "treasurer"):  # enrolling is the coordinator's or the admin's
        assert api.call(who, "POST", "/badges/tapped", json=body).status_code == 403
    before = api.counts()
    badge = api.ok("coordinator", "POST", "/badges/tapped", json=body)
    assert (badge["hash"], badge["member_id"], badge["holder"]) == (TAPPED, member["id"], "Dora")
    audit = api.ok("admin", "GET", "/audit", params={"limit": 5})
    assert (audit[0]["action"], audit[0]["entity"]) == ("create", "badge")
    after = api.counts()
    assert after["badge"] == before["badge"] + 1
    # Nothing new was tapped since: refused in words, nothing stored.
    again = api.call("coordinator", "POST", "/badges/tapped", json=body)
    assert again.status_code == 404
    assert again.json()["detail"] == (
        "no card that is not enrolled was tapped on node1 in the last 5 minutes: "
        "tap it on the node's reader, then try again")
    assert api.counts() == after
    unknown = api.call("coordinator", "POST", "/badges/tapped", json={**body, "device": "nodex"})
    assert (unknown.status_code, unknown.json()["detail"]) == (404, "device nodex not found")
    reader.close()


def test_no_influxdb_is_a_503(make_api: Callable[..., Api]) -> None:
    api = make_api()  # its InfluxDB address answers nothing
    member = api.ok("admin", "POST", "/members", json={"code": "D", "name": "Dora"})
    api.ok("admin", "POST", "/devices", json={"name": "node1", "role": "machine"})
    before = api.counts()
    response = api.call("admin", "POST", "/badges/tapped",
                        json={"member_id": member["id"], "device": "node1"})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("InfluxDB unreachable")
    assert api.counts() == before
