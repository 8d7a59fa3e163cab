"""Exact pools and their lines, before rounding."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass(frozen=True)
class Line:
    """One line of a statement: what was counted, how, at what price, for how much."""

    pool: str  # energy, demand, common, heating
    item: str  # e.g. band name, "demand charge", "fixed charge"
    basis: str  # measured, estimated, measured+estimated, key, shapley, coincident peak
    quantity: Fraction
    unit: str  # kWh, kW, m2·days, ...
    price: Fraction | None  # per unit of quantity
    key: str | None  # "3000 of 7500 m2·days"
    exact: Fraction  # exact amount in currency
    note: str  # the line read as a sentence


@dataclass
class ExactPool:
    name: str
    total: Fraction  # whole cents
    lines: dict[str, list[Line]] = field(default_factory=dict)  # entry -> lines

    def add(self, entry: str, line: Line) -> None:
        self.lines.setdefault(entry, []).append(line)

    def exact(self) -> dict[str, Fraction]:
        return {e: sum((ln.exact for ln in lines), Fraction(0)) for e, lines in self.lines.items()}


def money(x: Fraction) -> str:
    """Exact amount for notes, to four decimals (the rounded figure is elsewhere)."""
    return f"{float(x):.4f}".rstrip("0").rstrip(".") if x.denominator != 1 else f"{int(x)}"


def qty(x: Fraction) -> str:
    return f"{float(x):,.3f}".rstrip("0").rstrip(".") if x.denominator != 1 else f"{int(x):,}"
