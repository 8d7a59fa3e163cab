"""Tariffs, the bills the treasurer enters, and the splits run on them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.models.base import Base, utcnow
from api.models.types import ExactDecimal

DEMAND_METHODS = ("shapley", "coincident_peak")
VACANCY_POLICIES = ("owner", "redistribute")


class Tariff(Base):
    """Band schedule of an electricity contract: which hours each band covers."""

    __tablename__ = "tariff"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    name: Mapped[str] = mapped_column(String(64))
    # [{"name": "peak", "hours": {"from": "08:00", "to": "20:00", "weekdays": [1..5]}}, ...];
    # a band without hours takes every slot no earlier band covers.
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    demand_method: Mapped[str] = mapped_column(String(32), default="shapley")


class ElectricityBill(Base):
    __tablename__ = "electricity_bill"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariff.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # inclusive
    demand_cost: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    fixed_cost: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    vacancy_policy: Mapped[str] = mapped_column(String(16), default="owner")
    reference: Mapped[str] = mapped_column(String(200), default="")  # supplier's invoice no.
    # Once closed, neither the bill nor its splits change again.
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    bands: Mapped[list[BillBand]] = relationship(
        back_populates="bill", cascade="all, delete-orphan", order_by="BillBand.position"
    )


class BillBand(Base):
    __tablename__ = "bill_band"
    __table_args__ = (UniqueConstraint("bill_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("electricity_bill.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(64))
    kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    cost: Mapped[Decimal] = mapped_column(ExactDecimal())

    bill: Mapped[ElectricityBill] = relationship(back_populates="bands")


class GasBill(Base):
    """Heating: split with the electricity bill of the same period."""

    __tablename__ = "gas_bill"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    cost: Mapped[Decimal] = mapped_column(ExactDecimal())
    alpha: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal("0.5"))
    reference: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AllocationRun(Base):
    """One computed split: its exact input and output, never updated."""

    __tablename__ = "allocation_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("electricity_bill.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), default=None)
    scenario: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # the engine's split_to_dict
    csv: Mapped[str] = mapped_column(Text)  # the engine's split_to_csv
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)  # where the input came from
