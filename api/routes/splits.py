"""Splits of a bill: run, list, the statement per member, CSV and PDF export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request, Response, status
from sqlalchemy import select

from api.deps import AuditorDep, CurrentUser, SessionDep, SiteDep, Staff, Treasurer
from api.models import AllocationRun, ElectricityBill, Member, User
from api.routes.common import get_or_404
from api.schemas.bills import SplitPublic, SplitRequest, SplitSummary
from api.services.split_input import ManualInputs
from api.services.splits import SplitError, preview, run_split
from api.services.statements import member_statement, run_statement_pdf

router = APIRouter(tags=["splits"])


def _summary(run: AllocationRun) -> SplitSummary:
    return SplitSummary(
        id=run.id,
        bill_id=run.bill_id,
        created_at=run.created_at,
        created_by=run.created_by,
        total=run.result.get("total"),
        notes=run.notes or [],
    )


def _raise(exc: SplitError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@router.post("/splits/preview")
def split_preview(_: Staff, scenario: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    """The engine's output for a scenario (docs/allocation.md) given directly."""
    try:
        return preview(scenario)
    except SplitError as exc:
        raise _raise(exc) from exc


@router.post("/bills/{bill_id}/splits", response_model=SplitPublic, status_code=201)
def create_split(
    bill_id: int,
    request: Request,
    _: Treasurer,
    session: SessionDep,
    site: SiteDep,
    audit: AuditorDep,
    body: SplitRequest | None = None,
) -> SplitPublic:
    bill = get_or_404(session, ElectricityBill, bill_id, "bill")
    manual = None
    if body is not None and body.manual is not None:
        manual = ManualInputs(body.manual.metered_kwh, body.manual.demand_intervals_kw)
    try:
        run = run_split(session, request.app.state.influx, site, bill, audit, manual)
    except SplitError as exc:
        session.rollback()
        raise _raise(exc) from exc
    session.commit()
    return SplitPublic(**_summary(run).model_dump(), result=run.result)


@router.get("/bills/{bill_id}/splits", response_model=list[SplitSummary])
def list_splits(bill_id: int, _: Staff, session: SessionDep) -> list[SplitSummary]:
    get_or_404(session, ElectricityBill, bill_id, "bill")
    runs = session.scalars(
        select(AllocationRun).where(AllocationRun.bill_id == bill_id).order_by(AllocationRun.id)
    )
    return [_summary(run) for run in runs]


@router.get("/splits/{run_id}", response_model=SplitPublic)
def get_split(run_id: int, _: Treasurer, session: SessionDep) -> SplitPublic:
    run = get_or_404(session, AllocationRun, run_id, "split")
    return SplitPublic(**_summary(run).model_dump(), result=run.result)


@router.get("/splits/{run_id}/csv")
def split_csv(run_id: int, _: Treasurer, session: SessionDep) -> Response:
    run = get_or_404(session, AllocationRun, run_id, "split")
    return Response(
        run.csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="split-{run.id}.csv"'},
    )


def _own_statement(
    session: SessionDep, user: User, run_id: int, member_id: int
) -> tuple[AllocationRun, Member, dict[str, Any]]:
    if user.role not in ("treasurer", "admin") and user.member_id != member_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "members see only their own statement")
    run = get_or_404(session, AllocationRun, run_id, "split")
    if run.result.get("held") and user.role not in ("treasurer", "admin"):
        # ALLOCATION.md step 4: beyond the tolerance the statements wait for the treasurer.
        raise HTTPException(status.HTTP_409_CONFLICT, f"split {run_id} is held for review")
    member = get_or_404(session, Member, member_id, "member")
    statement = member_statement(run.result, member.code)
    if statement is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"member {member.code} has no share in split {run_id}"
        )
    return run, member, statement


@router.get("/splits/{run_id}/statements/{member_id}")
def get_statement(
    run_id: int, member_id: int, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    run, member, statement = _own_statement(session, user, run_id, member_id)
    return {
        "split_id": run.id,
        "bill_id": run.bill_id,
        "member": {"id": member.id, "code": member.code, "name": member.name},
        "period": run.result.get("period"),
        "held": run.result.get("held", False),
        **statement,
    }


@router.get("/splits/{run_id}/statements/{member_id}/pdf")
def get_statement_pdf(
    run_id: int, member_id: int, user: CurrentUser, session: SessionDep, site: SiteDep
) -> Response:
    run, member, statement = _own_statement(session, user, run_id, member_id)
    pdf = run_statement_pdf(site, run, member, statement)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="statement-{run.id}-{member.code}.pdf"'
        },
    )
