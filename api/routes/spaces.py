"""Rentable units and leases."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import IdPath, SessionDep, SiteDep, Staff, Treasurer, WorkDep
from api.models import Lease, Unit
from api.schemas.spaces import (
    LeaseCreate,
    LeasePublic,
    LeaseUpdate,
    UnitCreate,
    UnitPublic,
    UnitUpdate,
)
from api.services import spaces

router = APIRouter(tags=["spaces"])


@router.get("/units", response_model=list[UnitPublic])
def list_units(_: Staff, session: SessionDep, site: SiteDep) -> list[Unit]:
    return spaces.list_units(session, site)


@router.post("/units", response_model=UnitPublic, status_code=201)
def create_unit(body: UnitCreate, _: Treasurer, work: WorkDep) -> Unit:
    return spaces.create_unit(work, body)


@router.patch("/units/{unit_id}", response_model=UnitPublic)
def update_unit(unit_id: IdPath, body: UnitUpdate, _: Treasurer, work: WorkDep) -> Unit:
    return spaces.update_unit(work, unit_id, body)


@router.get("/leases", response_model=list[LeasePublic])
def list_leases(_: Staff, session: SessionDep) -> list[Lease]:
    return spaces.list_leases(session)


@router.post("/leases", response_model=LeasePublic, status_code=201)
def create_lease(body: LeaseCreate, _: Treasurer, work: WorkDep) -> Lease:
    return spaces.create_lease(work, body)


@router.patch("/leases/{lease_id}", response_model=LeasePublic)
def update_lease(lease_id: IdPath, body: LeaseUpdate, _: Treasurer, work: WorkDep) -> Lease:
    return spaces.update_lease(work, lease_id, body)
