"""The coordinator's view of the building: now, and charts over time (staff only);
and what a member sees of the machines: the ones they may use, free or not."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from alerts.config import RulesConfig, load_rules
from api.deps import CurrentUser, InfluxDep, SessionDep, SiteDep, Staff
from api.services import availability, building, charts, estimates

router = APIRouter(tags=["building"])


def get_rules(request: Request) -> RulesConfig:
    """The alert thresholds (zone setpoints, silence): the file the alert service reads."""
    rules: RulesConfig | None = getattr(request.app.state, "rules", None)
    if rules is None:
        rules = load_rules(request.app.state.settings.alerts_rules_file)
        request.app.state.rules = rules
    return rules


RulesDep = Annotated[RulesConfig, Depends(get_rules)]


@router.get("/building/now")
def building_now(_: Staff, session: SessionDep, site: SiteDep, influx: InfluxDep,
                 rules: RulesDep) -> dict[str, Any]:
    """Zones against setpoints, boilers, nodes, machines in use, open alerts."""
    return building.building_now(session, influx, site, rules)


@router.get("/building/charts/{chart}")
def building_chart(chart: str, _: Staff, site: SiteDep, influx: InfluxDep,
                   wanted: Annotated[str, Query(alias="range")] = "24h") -> dict[str, Any]:
    return charts.chart(influx, site.name, chart, wanted)


@router.get("/me/machines")
def my_machines(user: CurrentUser, session: SessionDep, site: SiteDep,
                influx: InfluxDep) -> list[dict[str, Any]]:
    """The machines the member is trained on, the training's expiry, and whether
    each is free, in use or out of order (no node, or an open fault on it)."""
    return availability.member_machines(session, influx, site, user)


@router.get("/me/price")
def energy_price(_: CurrentUser, session: SessionDep, site: SiteDep) -> dict[str, Any]:
    """The energy price of the newest electricity bill: what a member's session is
    estimated at before the split."""
    return estimates.energy_price(session, site)
