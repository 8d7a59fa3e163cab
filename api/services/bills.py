"""Tariffs and the bills the treasurer enters."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import BillBand, ElectricityBill, GasBill, Site, Tariff
from api.schemas.bills import BillClose, BillCreate, GasBillCreate, TariffCreate
from api.services.audit import snapshot
from api.services.errors import Conflict, Invalid
from api.services.records import add_row, get
from api.services.splits import hold_reasons, latest_run
from api.services.work import Work


def list_tariffs(session: Session, site: Site) -> list[Tariff]:
    return list(
        session.scalars(select(Tariff).where(Tariff.site_id == site.id).order_by(Tariff.id))
    )


def tariff_named(session: Session, site: Site, name: str) -> Tariff | None:
    return session.scalar(select(Tariff).where(Tariff.site_id == site.id, Tariff.name == name))


def create_tariff(work: Work, body: TariffCreate) -> Tariff:
    if tariff_named(work.session, work.site, body.name):
        raise Conflict(f"tariff {body.name} exists")
    bands = [b.model_dump(by_alias=True, exclude_none=True) for b in body.bands]
    tariff = add_row(
        work.session,
        work.audit,
        Tariff(site_id=work.site.id, name=body.name, bands=bands, demand_method=body.demand_method),
    )
    work.session.commit()
    return tariff


def list_bills(session: Session, site: Site) -> list[ElectricityBill]:
    query = select(ElectricityBill).where(ElectricityBill.site_id == site.id)
    return list(session.scalars(query.order_by(ElectricityBill.period_start)))


def get_bill(session: Session, bill_id: int) -> ElectricityBill:
    return get(session, ElectricityBill, bill_id, "bill")


def _check_bands(tariff: Tariff, body: BillCreate) -> None:
    known = [b["name"] for b in tariff.bands]
    for band in body.bands:
        if band.name not in known:
            raise Invalid(
                f"unknown band '{band.name}': tariff {tariff.name} has {', '.join(known)}"
            )
    missing = sorted(set(known) - {b.name for b in body.bands})
    if missing:
        raise Invalid(f"band '{missing[0]}' of tariff {tariff.name} is missing from the bill")


def create_bill(work: Work, body: BillCreate) -> ElectricityBill:
    tariff = get(work.session, Tariff, body.tariff_id, "tariff")
    _check_bands(tariff, body)
    order = {b["name"]: i for i, b in enumerate(tariff.bands)}
    bill = add_row(
        work.session,
        work.audit,
        ElectricityBill(
            site_id=work.site.id,
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
        ),
    )
    work.audit.record(
        "create", "bill_band", bill.id, after={"bands": [snapshot(b) for b in bill.bands]}
    )
    work.session.commit()
    return bill


def close_bill(work: Work, bill_id: int, body: BillClose | None = None) -> ElectricityBill:
    """A closed bill's splits never change again, and its latest split is the one
    its members are sent. So a bill without a split is not closed, nor one whose
    latest split is held (its members would never see a statement) unless the
    request overrides the hold with a reason: the override goes to the audit log
    with the closing, and the members then see that split."""
    bill = get(work.session, ElectricityBill, bill_id, "bill")
    if bill.closed_at is not None:
        raise Conflict(f"bill {bill_id} was closed at {bill.closed_at}")
    run = latest_run(work.session, bill.id)
    if run is None:
        raise Conflict(
            f"bill {bill_id} has no split: run one first (POST /bills/{bill_id}/splits, or "
            f"`python -m api.cli run-split {bill_id}`); its latest split is what its members "
            "are sent when it is closed"
        )
    reasons = hold_reasons(run)
    override = body.override_held if body is not None else None
    if reasons and override is None:
        raise Conflict(
            f"bill {bill_id}: its latest split {run.id} is held ({'; '.join(reasons)}), so its "
            "members get no statement. Check the meters and readings and run the split again, "
            f'or close it over the hold with a reason: {{"override_held": "<reason>"}} in the '
            f'request body, or `python -m api.cli close-bill {bill_id} --override-held "<reason>"`'
        )
    if override is not None and not reasons:
        raise Conflict(
            f"bill {bill_id}: its latest split {run.id} is not held; close it without an override"
        )
    before = snapshot(bill)
    bill.closed_at = datetime.now(UTC)
    work.audit.updated(bill, before)
    if override is not None:
        work.audit.record(
            "override_held",
            "electricity_bill",
            bill.id,
            after={"split_id": run.id, "reason": override, "held_because": reasons},
        )
    work.session.commit()
    return bill


def list_gas_bills(session: Session, site: Site) -> list[GasBill]:
    query = select(GasBill).where(GasBill.site_id == site.id).order_by(GasBill.period_start)
    return list(session.scalars(query))


def create_gas_bill(work: Work, body: GasBillCreate) -> GasBill:
    bill = add_row(work.session, work.audit, GasBill(site_id=work.site.id, **body.model_dump()))
    work.session.commit()
    return bill
