"""Tariffs and the bills the treasurer enters."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import IdPath, SessionDep, SiteDep, Staff, Treasurer, WorkDep
from api.models import ElectricityBill, GasBill, Tariff
from api.schemas.bills import (
    BillClose,
    BillCreate,
    BillPublic,
    GasBillCreate,
    GasBillPublic,
    TariffCreate,
    TariffPublic,
)
from api.services import bills

router = APIRouter(tags=["bills"])


@router.get("/tariffs", response_model=list[TariffPublic])
def list_tariffs(_: Staff, session: SessionDep, site: SiteDep) -> list[Tariff]:
    return bills.list_tariffs(session, site)


@router.post("/tariffs", response_model=TariffPublic, status_code=201)
def create_tariff(body: TariffCreate, _: Treasurer, work: WorkDep) -> Tariff:
    return bills.create_tariff(work, body)


@router.get("/bills", response_model=list[BillPublic])
def list_bills(_: Staff, session: SessionDep, site: SiteDep) -> list[ElectricityBill]:
    return bills.list_bills(session, site)


@router.get("/bills/{bill_id}", response_model=BillPublic)
def get_bill(bill_id: IdPath, _: Staff, session: SessionDep) -> ElectricityBill:
    return bills.get_bill(session, bill_id)


@router.post("/bills", response_model=BillPublic, status_code=201)
def create_bill(body: BillCreate, _: Treasurer, work: WorkDep) -> ElectricityBill:
    return bills.create_bill(work, body)


@router.post("/bills/{bill_id}/close", response_model=BillPublic)
def close_bill(
    bill_id: IdPath, _: Treasurer, work: WorkDep, body: BillClose | None = None
) -> ElectricityBill:
    """409 without a split, or when the latest split is held and the body has no
    `override_held` reason."""
    return bills.close_bill(work, bill_id, body)


@router.get("/gas-bills", response_model=list[GasBillPublic])
def list_gas_bills(_: Staff, session: SessionDep, site: SiteDep) -> list[GasBill]:
    return bills.list_gas_bills(session, site)


@router.post("/gas-bills", response_model=GasBillPublic, status_code=201)
def create_gas_bill(body: GasBillCreate, _: Treasurer, work: WorkDep) -> GasBill:
    return bills.create_gas_bill(work, body)
