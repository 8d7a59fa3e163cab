"""Rentable units and leases: a unit has at most one tenant on any day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Lease, Member, Site, Unit
from api.schemas.spaces import LeaseCreate, LeaseUpdate, UnitCreate, UnitUpdate
from api.services.errors import Conflict, Invalid
from api.services.records import add_row, apply_update, create_coded, get
from api.services.work import Work


def list_units(session: Session, site: Site) -> list[Unit]:
    return list(session.scalars(select(Unit).where(Unit.site_id == site.id).order_by(Unit.code)))


def create_unit(work: Work, body: UnitCreate) -> Unit:
    return create_coded(work, Unit, body, "unit")


def update_unit(work: Work, unit_id: int, body: UnitUpdate) -> Unit:
    unit = get(work.session, Unit, unit_id, "unit")
    apply_update(work.audit, unit, body)
    work.session.commit()
    return unit


def list_leases(session: Session) -> list[Lease]:
    return list(session.scalars(select(Lease).order_by(Lease.unit_id, Lease.start)))


def _check_lease(
    session: Session, unit_id: int, start: date, end: date | None, skip: int | None
) -> None:
    if end is not None and end < start:
        raise Invalid(f"lease ends ({end}) before it starts ({start})")
    for other in session.scalars(
        select(Lease).where(Lease.unit_id == unit_id, Lease.id != (skip or 0))
    ):
        if other.start <= (end or date.max) and start <= (other.end or date.max):
            first = max(other.start, start)
            unit = session.get(Unit, unit_id)
            code = unit.code if unit else unit_id
            raise Conflict(
                f"unit {code} is already leased from {other.start} to {other.end or 'open end'} "
                f"(lease {other.id}); the new lease overlaps it from {first}"
            )


def create_lease(work: Work, body: LeaseCreate) -> Lease:
    session = work.session
    get(session, Unit, body.unit_id, "unit")
    get(session, Member, body.member_id, "member")
    _check_lease(session, body.unit_id, body.start, body.end, None)
    lease = add_row(session, work.audit, Lease(**body.model_dump()))
    session.commit()
    return lease


def update_lease(work: Work, lease_id: int, body: LeaseUpdate) -> Lease:
    lease = get(work.session, Lease, lease_id, "lease")
    _check_lease(work.session, lease.unit_id, lease.start, body.end, lease.id)
    apply_update(work.audit, lease, body)
    work.session.commit()
    return lease
