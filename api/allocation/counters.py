"""Step 1: clean a cumulative counter into energy per 15-minute slot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import lcm

from .scenario import SLOT_SECONDS, Reading

Span = tuple[int, int]  # [start, end) in seconds since the period start


@dataclass(frozen=True)
class Rejection:
    start: int
    end: int
    wh: Fraction
    limit_wh: Fraction


@dataclass(frozen=True)
class Cleaned:
    slot_wh: dict[int, Fraction]  # slot index -> Wh
    covered: tuple[Span, ...]  # merged spans with trusted data, inside the period
    rejected: tuple[Rejection, ...]
    resets: int

    @property
    def total_wh(self) -> Fraction:
        return Fraction(sum(self.slot_wh.values()))  # int sums stay fast


def clean_counter(readings: Sequence[Reading], rated_kw: Fraction, horizon: int) -> Cleaned:
    """Deltas of a cumulative Wh counter, spread evenly over the slots they cover.

    A decrease is a reset (the counter restarted from zero, so the delta is the
    reading); a delta above 1.1 x rated power x elapsed time is rejected and its
    span becomes a gap. Energy outside [0, horizon) seconds is dropped.
    """
    # Hot loop on integers: scale readings to a common denominator once.
    scale = lcm(*{r.wh.denominator for r in readings}) if readings else 1
    values = [r.wh.numerator * (scale // r.wh.denominator) for r in readings]
    limit = Fraction(11, 10) * rated_kw * 1000 * scale / 3600  # scaled Wh per second
    limit_num, limit_den = limit.numerator, limit.denominator
    slots: dict[int, int | Fraction] = {}
    covered: list[Span] = []
    rejected: list[Rejection] = []
    resets = 0
    times = [r.at for r in readings]
    for k in range(1, len(readings)):
        a, b = times[k - 1], times[k]
        delta = values[k] - values[k - 1]
        if delta < 0:
            delta = values[k]
            resets += 1
        if delta * limit_den > limit_num * (b - a):
            rejected.append(
                Rejection(
                    a, b, Fraction(delta, scale), Fraction(limit_num * (b - a), limit_den * scale)
                )
            )
            continue
        lo, hi = max(a, 0), min(b, horizon)
        if hi <= lo:
            continue
        if covered and covered[-1][1] >= lo:
            covered[-1] = (covered[-1][0], hi)
        else:
            covered.append((lo, hi))
        if not delta:
            continue
        slot = a // SLOT_SECONDS
        if lo == a and hi == b and (b - 1) // SLOT_SECONDS == slot:
            slots[slot] = slots.get(slot, 0) + delta  # the common case stays integer
        else:
            _spread(slots, delta, a, b, lo, hi)
    return Cleaned(
        # Whole Wh stay ints (the usual case); Fraction arithmetic accepts them.
        slots if scale == 1 else {slot: Fraction(wh) / scale for slot, wh in slots.items()},  # type: ignore[arg-type]
        tuple(covered),
        tuple(rejected),
        resets,
    )


def _spread(slots: dict[int, int | Fraction], delta: int, a: int, b: int, lo: int, hi: int) -> None:
    first, last = lo // SLOT_SECONDS, (hi - 1) // SLOT_SECONDS
    if first == last and lo == a and hi == b:
        slots[first] = slots.get(first, 0) + delta  # the common case stays integer
        return
    for slot in range(first, last + 1):
        overlap = min(hi, (slot + 1) * SLOT_SECONDS) - max(lo, slot * SLOT_SECONDS)
        slots[slot] = slots.get(slot, 0) + Fraction(delta * overlap, b - a)


def gaps(covered: Sequence[Span], horizon: int) -> list[Span]:
    """The complement of the covered spans within [0, horizon)."""
    result: list[Span] = []
    cursor = 0
    for lo, hi in covered:
        if lo > cursor:
            result.append((cursor, lo))
        cursor = max(cursor, hi)
    if cursor < horizon:
        result.append((cursor, horizon))
    return result
