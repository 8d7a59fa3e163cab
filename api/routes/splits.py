"""Splits of a bill: run, list, the statement per member, CSV and PDF export."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Response

from api.deps import CurrentUser, IdPath, InfluxDep, SessionDep, SiteDep, Staff, Treasurer, WorkDep
from api.schemas.bills import SplitPublic, SplitRequest, SplitSummary
from api.services import splits, statements

router = APIRouter(tags=["splits"])


@router.post("/splits/preview")
def split_preview(_: Staff, scenario: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    """The engine's output for a scenario (docs/allocation.md) given directly."""
    return splits.preview(scenario)


@router.post("/bills/{bill_id}/splits", response_model=SplitPublic, status_code=201)
def create_split(
    bill_id: IdPath,
    _: Treasurer,
    work: WorkDep,
    influx: InfluxDep,
    body: SplitRequest | None = None,
) -> SplitPublic:
    return splits.public(splits.run_split(work, influx, bill_id, body))


@router.get("/bills/{bill_id}/splits", response_model=list[SplitSummary])
def list_splits(bill_id: IdPath, _: Staff, session: SessionDep) -> list[SplitSummary]:
    return splits.list_splits(session, bill_id)


@router.get("/splits/{run_id}", response_model=SplitPublic)
def get_split(run_id: IdPath, _: Treasurer, session: SessionDep) -> SplitPublic:
    return splits.public(splits.get_run(session, run_id))


@router.get("/splits/{run_id}/csv")
def split_csv(run_id: IdPath, _: Treasurer, session: SessionDep) -> Response:
    run = splits.get_run(session, run_id)
    return Response(
        run.csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="split-{run.id}.csv"'},
    )


@router.get("/splits/{run_id}/statements/{member_id}")
def get_statement(
    run_id: IdPath, member_id: IdPath, user: CurrentUser, session: SessionDep
) -> dict[str, Any]:
    return statements.statement_view(session, user, run_id, member_id)


@router.get("/splits/{run_id}/statements/{member_id}/pdf")
def get_statement_pdf(
    run_id: IdPath, member_id: IdPath, user: CurrentUser, session: SessionDep, site: SiteDep
) -> Response:
    pdf = statements.statement_pdf_of(session, user, site, run_id, member_id)
    return Response(
        pdf.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{pdf.filename}"'},
    )
