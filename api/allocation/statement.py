"""Per-entry statements: rounded pool amounts carried down to their lines."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import floor

from .pools import ExactPool, Line
from .rounding import apportion, largest_remainder


@dataclass(frozen=True)
class RoundedPool:
    name: str
    total_cents: int
    cents: dict[str, int]  # entry -> rounded amount
    exact: dict[str, Fraction]  # entry -> exact amount (currency)
    lines: dict[str, tuple[tuple[Line, int], ...]]  # entry -> (line, cents)


@dataclass(frozen=True)
class Statement:
    entry: str  # member id, or "vacancy"
    total_cents: int
    pools: dict[str, int]
    lines: tuple[tuple[Line, int], ...]

    @property
    def estimated(self) -> bool:
        return any("estimated" in line.basis for line, _ in self.lines)

    def explanation(self) -> str:
        if not self.lines:
            return f"{self.entry}: nothing to pay this period."
        sentences = [f"{line.note} = {cents_str(cents)}" for line, cents in self.lines]
        return f"{self.entry}: " + "; ".join(sentences) + f". Total {cents_str(self.total_cents)}."


def cents_str(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def round_pool(pool: ExactPool, leftovers: dict[str, int] | None = None) -> RoundedPool:
    """Largest remainder over the pool's entries, then over each entry's lines.

    leftovers (entry -> leftover cents won in the pools rounded so far) breaks
    the ties that remain after the remainders and exact shares, and is updated."""
    total = pool.total * 100
    if total.denominator != 1:
        raise ValueError(f"pool {pool.name} total {pool.total} is not whole cents")
    exact = pool.exact()
    exact_cents = {e: v * 100 for e, v in exact.items()}
    cents = largest_remainder(int(total), exact_cents, leftovers)
    if leftovers is not None:
        for entry, value in exact_cents.items():
            if cents[entry] > floor(value):
                leftovers[entry] = leftovers.get(entry, 0) + 1
    lines: dict[str, tuple[tuple[Line, int], ...]] = {}
    for entry, entry_lines in pool.lines.items():
        split = apportion(cents[entry], {str(k): ln.exact for k, ln in enumerate(entry_lines)})
        lines[entry] = tuple((ln, split[str(k)]) for k, ln in enumerate(entry_lines))
    return RoundedPool(pool.name, int(total), cents, exact, lines)


def statements(pools: list[RoundedPool], entries: list[str]) -> dict[str, Statement]:
    result = {}
    for entry in entries:
        per_pool = {p.name: p.cents.get(entry, 0) for p in pools}
        lines = tuple(item for p in pools for item in p.lines.get(entry, ()))
        result[entry] = Statement(entry, sum(per_pool.values()), per_pool, lines)
    return result
