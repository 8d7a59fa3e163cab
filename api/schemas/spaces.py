from __future__ import annotations

from datetime import date
from decimal import Decimal

from api.schemas.common import Code, Id, NonNegative, Public, Strict


class UnitCreate(Strict):
    code: Code
    area_m2: NonNegative
    weight: NonNegative = Decimal(1)
    heated: bool = True


class UnitUpdate(Strict):
    area_m2: NonNegative | None = None
    weight: NonNegative | None = None
    heated: bool | None = None


class UnitPublic(Public):
    id: int
    code: str
    area_m2: NonNegative
    weight: NonNegative
    heated: bool


class LeaseCreate(Strict):
    unit_id: Id
    member_id: Id
    start: date
    end: date | None = None  # inclusive; open-ended when absent


class LeaseUpdate(Strict):
    end: date | None


class LeasePublic(Public):
    id: int
    unit_id: int
    member_id: int
    start: date
    end: date | None
