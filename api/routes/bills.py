"""Tariffs and the bills the treasurer enters."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy import select

from api.deps import AuditorDep, SessionDep, SiteDep, Staff, Treasurer
from api.models import BillBand, ElectricityBill, GasBill, Tariff
from api.routes.common import conflict, get_or_404, unprocessable
from api.schemas.bills import (
    BillCreate,
    BillPublic,
    GasBillCreate,
    GasBillPublic,
    TariffCreate,
    TariffPublic,
)
from api.services.audit import snapshot

router = APIRouter(tags=["bills"])


@router.get("/tariffs", response_model=list[TariffPublic])
def list_tariffs(_: Staff, session: SessionDep, site: SiteDep) -> list[Tariff]:
    return list(
        session.scalars(select(Tariff).where(Tariff.site_id == site.id).order_by(Tariff.id))
    )


@router.post("/tariffs", response_model=TariffPublic, status_code=201)
def create_tariff(
    body: TariffCreate, _: Treasurer, session: SessionDep, site: SiteDep, audit: AuditorDep
) -> Tariff:
    if session.scalar(select(Tariff).where(Tariff.site_id == site.id, Tariff.name == body.name)):
        raise conflict(f"tariff {body.name} exists")
    bands = [b.model_dump(by_alias=True, exclude_none=True) for b in body.bands]
    tariff = Tariff(site_id=site.id, name=body.name, bands=bands, demand_method=body.demand_method)
    session.add(tariff)
    audit.created(tariff)
    session.commit()
    return tariff


@router.get("/bills", response_model=list[BillPublic])
def list_bills(_: Staff, session: SessionDep, site: SiteDep) -> list[ElectricityBill]:
    query = select(ElectricityBill).where(ElectricityBill.site_id == site.id)
    return list(session.scalars(query.order_by(ElectricityBill.period_start)))


@router.get("/bills/{bill_id}", response_model=BillPublic)
def get_bill(bill_id: int, _: Staff, session: SessionDep) -> ElectricityBill:
    return get_or_404(session, ElectricityBill, bill_id, "bill")


def check_bands(tariff: Tariff, body: BillCreate) -> None:
    known = [b["name"] for b in tariff.bands]
    for band in body.bands:
        if band.name not in known:
            raise unprocessable(
                f"unknown band '{band.name}': tariff {tariff.name} has {', '.join(known)}"
            )
    missing = sorted(set(known) - {b.name for b in body.bands})
    if missing:
        raise unprocessable(f"band '{missing[0]}' of tariff {tariff.name} is missing from the bill")


@router.post("/bills", response_model=BillPublic, status_code=201)
def create_bill(
    body: BillCreate, _: Treasurer, session: SessionDep, site: SiteDep, audit: AuditorDep
) -> ElectricityBill:
    tariff = get_or_404(session, Tariff, body.tariff_id, "tariff")
    check_bands(tariff, body)
    order = {b["name"]: i for i, b in enumerate(tariff.bands)}
    bill = ElectricityBill(
        site_id=site.id,
        tariff_id=tariff.id,
        period_start=body.period_start,
        period_end=body.period_end,
        demand_cost=body.demand_cost,
        fixed_cost=body.fixed_cost,
        vacancy_policy=body.vacancy_policy,
        reference=body.reference,
        bands=[
            BillBand(position=order[b.name], name=b.name, kwh=b.kwh, cost=b.cost)
            for b in sorted(body.bands, key=lambda b: order[b.name])
        ],
    )
    session.add(bill)
    audit.created(bill)
    audit.record("create", "bill_band", bill.id, after={"bands": [snapshot(b) for b in bill.bands]})
    session.commit()
    return bill


@router.post("/bills/{bill_id}/close", response_model=BillPublic)
def close_bill(
    bill_id: int, _: Treasurer, session: SessionDep, audit: AuditorDep
) -> ElectricityBill:
    bill = get_or_404(session, ElectricityBill, bill_id, "bill")
    if bill.closed_at is not None:
        raise conflict(f"bill {bill_id} was closed at {bill.closed_at}")
    before = snapshot(bill)
    bill.closed_at = datetime.now(UTC)
    audit.updated(bill, before)
    session.commit()
    return bill


@router.get("/gas-bills", response_model=list[GasBillPublic])
def list_gas_bills(_: Staff, session: SessionDep, site: SiteDep) -> list[GasBill]:
    query = select(GasBill).where(GasBill.site_id == site.id).order_by(GasBill.period_start)
    return list(session.scalars(query))


@router.post("/gas-bills", response_model=GasBillPublic, status_code=201)
def create_gas_bill(
    body: GasBillCreate, _: Treasurer, session: SessionDep, site: SiteDep, audit: AuditorDep
) -> GasBill:
    bill = GasBill(site_id=site.id, **body.model_dump())
    session.add(bill)
    audit.created(bill)
    session.commit()
    return bill
