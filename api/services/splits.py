"""Run the split engine on a stored bill and keep the result (shared by routes and CLI)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.allocation import ScenarioError, allocate, parse_scenario, split_to_csv, split_to_dict
from api.models import AllocationRun, ElectricityBill, Site
from api.services import counter_cache
from api.services.audit import Auditor
from api.services.split_input import ManualInputs, build_split_input
from timeseries import InfluxClient, InfluxError

# Series are re-readable from InfluxDB; storing them would make a yearly run ~100 MB.
_SERIES_KEYS = ("counter_wh",)


class SplitError(ValueError):
    """The split cannot run; the message says why. Nothing was stored."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


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
        raise SplitError(str(exc)) from exc


def run_split(
    session: Session,
    reader: InfluxClient | None,
    site: Site,
    bill: ElectricityBill,
    auditor: Auditor,
    manual: ManualInputs | None = None,
) -> AllocationRun:
    """Compute and add (not commit) a run; the caller commits with the audit row."""
    if bill.closed_at is not None:
        raise SplitError(f"bill {bill.id} is closed; its splits no longer change", status=409)
    try:
        if reader is not None and (manual is None or manual.metered_kwh is None):
            # Its own transaction: a refused split must not throw the cached copy away.
            counter_cache.refresh(
                session, reader, site.name, counter_cache.counted_devices(session, site.id)
            )
            session.commit()
        built = build_split_input(session, reader, site, bill, manual)
    except InfluxError as exc:
        raise SplitError(f"cannot read sessions and counters: {exc}", status=503) from exc
    except ValueError as exc:
        raise SplitError(str(exc)) from exc
    try:
        split = allocate(parse_scenario(built.scenario))
    except ScenarioError as exc:
        raise SplitError(f"bill {bill.id}: {exc}") from exc
    result = split_to_dict(split)
    run = AllocationRun(
        bill_id=bill.id,
        created_by=auditor.user_id,
        scenario=stored_scenario(built.scenario),
        result=result,
        csv=split_to_csv(split),
        notes=built.notes,
    )
    session.add(run)
    session.flush()
    auditor.record(
        "run", "allocation_run", run.id, after={"bill_id": bill.id, "total": result["total"]}
    )
    return run

