"""Run the split engine on a stored bill and keep the result (shared by routes and CLI)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.allocation import ScenarioError, allocate, parse_scenario, split_to_csv, split_to_dict
from api.models import AllocationRun, ElectricityBill
from api.schemas.bills import SplitPublic, SplitRequest, SplitSummary
from api.services import counter_cache
from api.services.errors import Conflict, Invalid, Unavailable
from api.services.records import get
from api.services.split_input import build_split_input
from api.services.work import Work
from timeseries import InfluxClient, InfluxError

# Series are re-readable from InfluxDB; storing them would make a yearly run ~100 MB.
_SERIES_KEYS = ("counter_wh",)


def stored_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    kept = dict(scenario)
    kept["machines"] = [
        {k: v for k, v in m.items() if k not in _SERIES_KEYS}
        | {"readings": len(m.get("counter_wh", []))}
        for m in scenario.get("machines", [])
    ]
    if "main_meter_kwh" in kept:
        kept["main_meter_kwh"] = f"{len(kept['main_meter_kwh'])} slots from InfluxDB"
    if len(kept.get("sessions", [])) > 2000:
        kept["sessions"] = f"{len(kept['sessions'])} sessions from InfluxDB"
    if not kept["machines"]:
        kept.pop("machines")
    return kept


def preview(scenario: dict[str, Any]) -> dict[str, Any]:
    """The engine's answer for a scenario given directly; nothing is stored."""
    try:
        return split_to_dict(allocate(parse_scenario(scenario)))
    except ScenarioError as exc:
        raise Invalid(str(exc)) from exc


def run_split(
    work: Work, reader: InfluxClient | None, bill_id: int, request: SplitRequest | None = None
) -> AllocationRun:
    """Compute and store a run of the bill, with its audit row. Sessions and
    counters come from InfluxDB unless the request types the readings in."""
    session, site = work.session, work.site
    bill = get(session, ElectricityBill, bill_id, "bill")
    if bill.closed_at is not None:
        raise Conflict(f"bill {bill.id} is closed; its splits no longer change")
    manual = request.manual if request is not None else None
    try:
        if reader is not None and (manual is None or manual.metered_kwh is None):
            # Its own transaction: a refused split must not throw the cached copy away.
            counter_cache.refresh(
                session, reader, site.name, counter_cache.counted_devices(session, site.id)
            )
            session.commit()
        built = build_split_input(session, reader, site, bill, manual)
    except InfluxError as exc:
        raise Unavailable(f"cannot read sessions and counters: {exc}") from exc
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    try:
        split = allocate(parse_scenario(built.scenario))
    except ScenarioError as exc:
        raise Invalid(f"bill {bill.id}: {exc}") from exc
    result = split_to_dict(split)
    run = AllocationRun(
        bill_id=bill.id,
        created_by=work.audit.user_id,
        scenario=stored_scenario(built.scenario),
        result=result,
        csv=split_to_csv(split),
        notes=built.notes,
    )
    session.add(run)
    session.flush()
    work.audit.record(
        "run", "allocation_run", run.id, after={"bill_id": bill.id, "total": result["total"]}
    )
    session.commit()
    return run


def summary(run: AllocationRun) -> SplitSummary:
    return SplitSummary(
        id=run.id,
        bill_id=run.bill_id,
        created_at=run.created_at,
        created_by=run.created_by,
        total=run.result.get("total"),
        notes=run.notes or [],
    )


def public(run: AllocationRun) -> SplitPublic:
    return SplitPublic(**summary(run).model_dump(), result=run.result)


def list_splits(session: Session, bill_id: int) -> list[SplitSummary]:
    get(session, ElectricityBill, bill_id, "bill")
    runs = session.scalars(
        select(AllocationRun).where(AllocationRun.bill_id == bill_id).order_by(AllocationRun.id)
    )
    return [summary(run) for run in runs]


def get_run(session: Session, run_id: int) -> AllocationRun:
    return get(session, AllocationRun, run_id, "split")


def latest_run(session: Session, bill_id: int) -> AllocationRun | None:
    """The bill's newest split: the one that counts (runs are never updated)."""
    return session.scalar(
        select(AllocationRun)
        .where(AllocationRun.bill_id == bill_id)
        .order_by(AllocationRun.id.desc())
        .limit(1)
    )


def hold_reasons(run: AllocationRun) -> list[str]:
    """Why the engine held the run (its holding alerts, ALLOCATION.md step 4)."""
    if not run.result.get("held"):
        return []
    alerts = run.result.get("alerts", [])
    return [str(a.get("message")) for a in alerts if a.get("hold")] or ["held by the engine"]
