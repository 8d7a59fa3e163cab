"""The demo building enrolled as a site's admin, coordinator and treasurer would,
through the HTTP api: logins, members (a company with two cards, two people),
units and leases, devices, machines, badges, trainings; each node's config.json
from the api; and, once the simulated history is in InfluxDB, a bill for it
and its split.

What to enrol is the scenario's `enrolment` section (simulator/scenarios/
default.json); the cards, the nodes and who uses which machine are the
scenario's own `members` and `nodes`, so the api's records and the simulated
building cannot disagree."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx

from simulator.scenario import Scenario
from timeseries import InfluxClient, quote_string

# Local demo passwords only (the stack listens on 127.0.0.1): "<login>-local".
PASSWORD_SUFFIX = "-local"
# The demo tariff: two bands and a demand charge, as a small business contract.
TARIFF = {
    "name": "demo-two-band",
    "bands": [
        {"name": "peak", "hours": {"from": "08:00", "to": "20:00", "weekdays": [1, 2, 3, 4, 5]}},
        {"name": "offpeak"},
    ],
    "demand_method": "shapley",
}
PRICES = {"peak": Decimal("0.34"), "offpeak": Decimal("0.22")}
DEMAND_PRICE_PER_KW = Decimal("6.50")
CENT = Decimal("0.01")


class DemoError(RuntimeError):
    """The api refused a step of the enrolment; the message is its answer."""


def password_of(username: str) -> str:
    return username + PASSWORD_SUFFIX


@dataclass
class ApiClient:
    """The HTTP api with one token per login."""

    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=120)

    def login(self, username: str) -> bool:
        response = self.http.post(
            "/auth/token", json={"username": username, "password": password_of(username)}
        )
        if response.status_code != 200:
            return False
        self.tokens[username] = response.json()["access_token"]
        return True

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {self.tokens[who]}"}
        )
        if response.status_code >= 400:
            raise DemoError(f"{method} {path} as {who}: {response.status_code} {response.text}")
        return response.json() if response.headers.get("content-type", "").startswith(
            "application/json") else response.text

    def close(self) -> None:
        self.http.close()


def enrolled(api: ApiClient) -> bool:
    return bool(api.call("admin", "GET", "/members"))


STAFF = ("coordinator", "treasurer")


def enrol(api: ApiClient, scenario: Scenario, today: date) -> None:
    """Everything the scenario's building needs in the api, each part by the role
    that does it on a site; the admin is logged in."""
    plan = scenario.data["enrolment"]
    for login in plan["logins"]:
        if login["role"] in STAFF:
            api.call("admin", "POST", "/users", {
                "username": login["username"], "password": password_of(login["username"]),
                "role": login["role"]})
            api.login(login["username"])
    member_ids: dict[str, int] = {}
    card_owner: dict[str, str] = {}
    for entry in plan["members"]:
        body = {k: entry[k] for k in ("code", "name", "kind", "email") if k in entry}
        member_ids[entry["code"]] = api.call("coordinator", "POST", "/members", body)["id"]
        for card in entry["cards"]:
            card_owner[card] = entry["code"]
            api.call("coordinator", "POST", "/badges", {
                "member_id": member_ids[entry["code"]],
                "uid": scenario.members[card],
                "kind": "company" if entry.get("kind", "company") == "company" else "personal",
                "holder": card,
            })
    for login in plan["logins"]:
        if login["role"] == "admin" or login["role"] in STAFF:
            continue  # the admin is made with the CLI, as on a real site; staff above
        api.call("admin", "POST", "/users", {
            "username": login["username"], "password": password_of(login["username"]),
            "role": login["role"],
            "member_id": member_ids[login["member"]] if "member" in login else None,
        })
    lease_start = (today - timedelta(days=365)).isoformat()
    for unit in plan["units"]:
        created = api.call("treasurer", "POST", "/units",
                           {"code": unit["code"], "area_m2": unit["area_m2"]})
        if "lease" in unit:
            api.call("treasurer", "POST", "/leases", {
                "unit_id": created["id"], "member_id": member_ids[unit["lease"]],
                "start": lease_start,
            })
    device_ids = {
        spec["device"]: api.call("admin", "POST", "/devices",
                                 {"name": spec["device"], "role": spec["role"]})["id"]
        for spec in scenario.nodes
    }
    users_of = {spec["device"]: spec.get("users") or list(scenario.members)
                for spec in scenario.nodes}
    for machine in plan["machines"]:
        created = api.call("admin", "POST", "/machines", {
            "code": machine["code"], "name": machine.get("name", ""),
            "rated_power_w": machine["rated_power_w"],
            "grace_minutes": machine.get("grace_minutes", 0),
            "device_id": device_ids[machine["device"]],
        })
        trained = sorted({card_owner[card] for card in users_of[machine["device"]]})
        for code in trained:
            api.call("coordinator", "POST", "/trainings",
                     {"member_id": member_ids[code], "machine_id": created["id"]})


def node_configs(api: ApiClient, scenario: Scenario, folder: Path) -> dict[str, Path]:
    """Each node's config.json from the api (POST /devices/{id}/config: a new MQTT
    password each time), with the node's own settings from the scenario (its
    telemetry period, a heating node's sensor ROM ids, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    devices = {d["name"]: d["id"] for d in api.call("admin", "GET", "/devices")}
    written = {}
    for spec in scenario.nodes:
        own = scenario.node_config(spec)
        settings = dict(spec.get("config") or {})
        if "sensors" in own:
            settings["sensors"] = own["sensors"]
        config = api.call("admin", "POST", f"/devices/{devices[spec['device']]}/config",
                          {"settings": settings})
        path = folder / f"{spec['device']}.json"
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(config, indent=1, sort_keys=True))
        written[spec["device"]] = path
    return written


def _meter_quarters(influx: InfluxClient, site: str, device: str, start: datetime,
                    end: datetime) -> list[tuple[datetime, Decimal]]:
    """(start of each 15-minute slot, kWh in it) from the meter node's `wh` counter:
    a slot's energy is its last reading less the one before it (the slot before's
    last), so the first slot needs the reading before the period."""
    since = int((start - timedelta(minutes=15)).timestamp() * 1000)
    until = int(end.timestamp() * 1000)
    q = (f'SELECT last("wh") FROM "telemetry" WHERE "site" = {quote_string(site)} '
         f'AND "device" = {quote_string(device)} AND time >= {since}ms AND time < {until}ms '
         "GROUP BY time(15m) fill(none)")
    series = influx.query(q)
    rows = [(int(t), int(v)) for t, v in series[0].values] if series else []
    out = []
    for (_, wh0), (t1, wh1) in itertools.pairwise(rows):
        if wh1 >= wh0:  # a counter that went back (a new meter node) says nothing
            out.append((datetime.fromtimestamp(t1 / 1000, UTC), Decimal(wh1 - wh0) / 1000))
    return out


def bill_for(influx: InfluxClient, site: str, meter: str, first: date, last: date,
             zone: tzinfo = UTC) -> dict[str, Any]:
    """The utility's bill for [first, last] (dates inclusive in the site's time
    `zone`, as the api reads a bill's period), as the building's main meter
    counted it: kWh per band (TARIFF's hours, local time) at the band's price,
    and a demand charge on the highest 15-minute demand."""
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    kwh = {"peak": Decimal(0), "offpeak": Decimal(0)}
    peak_kw = Decimal(0)
    for moment, quarter in _meter_quarters(influx, site, meter, start, end):
        local = moment.astimezone(zone)
        band = "peak" if local.isoweekday() <= 5 and 8 <= local.hour < 20 else "offpeak"
        kwh[band] += quarter
        peak_kw = max(peak_kw, quarter * 4)
    bands = [{"name": name, "kwh": str(amount.quantize(Decimal("0.001"))),
              "cost": str((amount * PRICES[name]).quantize(CENT, ROUND_HALF_UP))}
             for name, amount in kwh.items()]
    return {
        "period_start": first.isoformat(), "period_end": last.isoformat(), "bands": bands,
        "demand_cost": str((peak_kw * DEMAND_PRICE_PER_KW).quantize(CENT, ROUND_HALF_UP)),
        "fixed_cost": str(Decimal(25)), "reference": f"demo {first} .. {last}",
    }


def bill_and_split(api: ApiClient, influx: InfluxClient, scenario: Scenario, first: date,
                   last: date) -> dict[str, Any] | None:
    """The treasurer imports the history's bill and runs its split (a draft: the
    bill stays open). None when a bill exists already (a restarted stack)."""
    if api.call("treasurer", "GET", "/bills"):
        return None
    meter = next(spec["device"] for spec in scenario.nodes if spec["role"] == "meter")
    tariffs = {t["name"]: t["id"] for t in api.call("treasurer", "GET", "/tariffs")}
    tariff_id = tariffs.get(TARIFF["name"]) or api.call(
        "treasurer", "POST", "/tariffs", TARIFF)["id"]
    bill = api.call("treasurer", "POST", "/bills",
                    {"tariff_id": tariff_id, **bill_for(influx, scenario.site, meter, first, last)})
    split: dict[str, Any] = api.call("treasurer", "POST", f"/bills/{bill['id']}/splits")
    return {"bill": bill["id"], "split": split["id"], "total": split["total"],
            "notes": split["notes"], "held": bool(split["result"].get("held"))}
