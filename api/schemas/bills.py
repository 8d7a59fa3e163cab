from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from api.schemas.common import (
    MAX_BANDS,
    MAX_MEMBERS,
    MAX_SLOTS,
    AmountText,
    Code,
    Id,
    Money,
    NonNegative,
    Public,
    Strict,
)

DemandMethod = Literal["shapley", "coincident_peak"]
VacancyPolicy = Literal["owner", "redistribute"]
_HHMM = r"^([01]\d|2[0-4]):[0-5]\d$"


class BandHours(Strict):
    from_: str = Field(alias="from", pattern=_HHMM)
    to: str = Field(pattern=_HHMM)
    weekdays: list[int] = Field(default=[1, 2, 3, 4, 5, 6, 7], min_length=1, max_length=7)

    @model_validator(mode="after")
    def _order(self) -> BandHours:
        if self.to <= self.from_:
            raise ValueError("'to' must be after 'from' (split a band that crosses midnight)")
        if any(not 1 <= d <= 7 for d in self.weekdays):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return self


class TariffBand(Strict):
    name: Code
    hours: BandHours | None = None


class TariffCreate(Strict):
    name: str = Field(min_length=1, max_length=64)
    bands: list[TariffBand] = Field(min_length=1, max_length=MAX_BANDS)
    demand_method: DemandMethod = "shapley"

    @model_validator(mode="after")
    def _unique(self) -> TariffCreate:
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError(f"band names repeat: {names}")
        return self


class TariffPublic(Public):
    id: int
    name: str
    bands: list[dict[str, Any]]
    demand_method: str


class BandAmount(Strict):
    name: Code
    kwh: NonNegative
    cost: Money


class BillCreate(Strict):
    tariff_id: Id
    period_start: date
    period_end: date  # inclusive
    bands: list[BandAmount] = Field(min_length=1, max_length=MAX_BANDS)
    demand_cost: Money = Field(default=0)  # type: ignore[assignment]
    fixed_cost: Money = Field(default=0)  # type: ignore[assignment]
    vacancy_policy: VacancyPolicy = "owner"
    reference: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> BillCreate:
        if self.period_end < self.period_start:
            raise ValueError(
                f"period ends ({self.period_end}) before it starts ({self.period_start})"
            )
        if (self.period_end - self.period_start).days >= 366:
            raise ValueError("a bill period is at most a year")
        names = [b.name for b in self.bands]
        if len(set(names)) != len(names):
            raise ValueError(f"band names repeat: {names}")
        if sum(b.kwh for b in self.bands) == 0:
            raise ValueError("bill of zero kWh: nothing to price the energy by")
        for band in self.bands:
            if band.kwh == 0 and band.cost > 0:
                raise ValueError(f"band {band.name}: cost {band.cost} for zero kWh")
        return self


class BandPublic(Public):
    name: str
    kwh: NonNegative
    cost: Money


class BillPublic(Public):
    id: int
    tariff_id: int
    period_start: date
    period_end: date
    bands: list[BandPublic]
    demand_cost: Money
    fixed_cost: Money
    vacancy_policy: str
    reference: str
    closed_at: datetime | None
    created_at: datetime


class BillClose(Strict):
    """Closing a bill. `override_held`: close it although its latest split is held,
    for this reason (kept in the audit log)."""

    override_held: str | None = Field(default=None, max_length=500)

    @field_validator("override_held")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("give the reason for closing over the hold")
        return value.strip() if value is not None else None


class GasBillCreate(Strict):
    period_start: date
    period_end: date
    cost: Money
    alpha: NonNegative = Field(default="0.5", le=1)  # type: ignore[assignment]
    reference: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _order(self) -> GasBillCreate:
        if self.period_end < self.period_start:
            raise ValueError(
                f"period ends ({self.period_end}) before it starts ({self.period_start})"
            )
        return self


class GasBillPublic(Public):
    id: int
    period_start: date
    period_end: date
    cost: Money
    alpha: NonNegative
    reference: str


class ManualReadings(Strict):
    """Readings typed in (e.g. meters read by hand) instead of read from InfluxDB."""

    metered_kwh: (
        Annotated[
            dict[Code, Annotated[dict[Code, AmountText], Field(max_length=MAX_BANDS)]],
            Field(max_length=MAX_MEMBERS),
        ]
        | None
    ) = None
    demand_intervals_kw: (
        Annotated[
            list[Annotated[dict[Code, AmountText], Field(max_length=MAX_MEMBERS + 1)]],
            Field(max_length=MAX_SLOTS),
        ]
        | None
    ) = None


class SplitRequest(Strict):
    manual: ManualReadings | None = None


class SplitSummary(Public):
    id: int
    bill_id: int
    created_at: datetime
    created_by: int | None
    total: str | None = None
    notes: list[str] = Field(default_factory=list)


class SplitPublic(SplitSummary):
    result: dict[str, Any]
