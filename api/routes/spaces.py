"""Rentable units and leases."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import AuditorDep, SessionDep, SiteDep, Staff, Treasurer
from api.models import Lease, Member, Unit
from api.routes.common import (
    add_row,
    apply_update,
    check_code_free,
    conflict,
    get_or_404,
    unprocessable,
)
from api.schemas.spaces import (
    LeaseCreate,
    LeasePublic,
    LeaseUpdate,
    UnitCreate,
    UnitPublic,
    UnitUpdate,
)

router = APIRouter(tags=["spaces"])


@router.get("/units", response_model=list[UnitPublic])
def list_units(_: Staff, session: SessionDep, site: SiteDep) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.site_id == site.id).order_by(Unit.code)))


@router.post("/units", response_model=UnitPublic, status_code=201)
def create_unit(
    body: UnitCreate, _: Treasurer, session: SessionDep, site: SiteDep, audit: AuditorDep
) -> Unit:
    check_code_free(session, Unit, site, body.code, "unit")
    unit = add_row(session, audit, Unit(site_id=site.id, **body.model_dump()))
    session.commit()
    return unit


@router.patch("/units/{unit_id}", response_model=UnitPublic)
def update_unit(
    unit_id: int, body: UnitUpdate, _: Treasurer, session: SessionDep, audit: AuditorDep
) -> Unit:
    unit = get_or_404(session, Unit, unit_id, "unit")
    apply_update(audit, unit, body)
    session.commit()
    return unit


@router.get("/leases", response_model=list[LeasePublic])
def list_leases(_: Staff, session: SessionDep) -> list[Lease]:
    return list(session.scalars(select(Lease).order_by(Lease.unit_id, Lease.start)))


def check_lease(
    session: Session, unit_id: int, start: date, end: date | None, skip: int | None
) -> None:
    """A unit has at most one tenant on any day."""
    if end is not None and end < start:
        raise unprocessable(f"lease ends ({end}) before it starts ({start})")
    for other in session.scalars(
        select(Lease).where(Lease.unit_id == unit_id, Lease.id != (skip or 0))
    ):
        if other.start <= (end or date.max) and start <= (other.end or date.max):
            first = max(other.start, start)
            unit = session.get(Unit, unit_id)
            code = unit.code if unit else unit_id
            raise conflict(
                f"unit {code} is already leased from {other.start} to {other.end or 'open end'} "
                f"(lease {other.id}); the new lease overlaps it from {first}"
            )


@router.post("/leases", response_model=LeasePublic, status_code=201)
def create_lease(body: LeaseCreate, _: Treasurer, session: SessionDep, audit: AuditorDep) -> Lease:
    get_or_404(session, Unit, body.unit_id, "unit")
    get_or_404(session, Member, body.member_id, "member")
    check_lease(session, body.unit_id, body.start, body.end, None)
    lease = add_row(session, audit, Lease(**body.model_dump()))
    session.commit()
    return lease


@router.patch("/leases/{lease_id}", response_model=LeasePublic)
def update_lease(
    lease_id: int, body: LeaseUpdate, _: Treasurer, session: SessionDep, audit: AuditorDep
) -> Lease:
    lease = get_or_404(session, Lease, lease_id, "lease")
    check_lease(session, lease.unit_id, lease.start, body.end, lease.id)
    apply_update(audit, lease, body)
    session.commit()
    return lease
