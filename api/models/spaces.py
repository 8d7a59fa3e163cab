"""Rentable units and who leases them when."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base
from api.models.types import ExactDecimal


class Unit(Base):
    __tablename__ = "unit"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    code: Mapped[str] = mapped_column(String(64))
    area_m2: Mapped[Decimal] = mapped_column(ExactDecimal())
    weight: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(1))
    heated: Mapped[bool] = mapped_column(default=True)


class Lease(Base):
    __tablename__ = "lease"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date, default=None)  # inclusive; None: open
