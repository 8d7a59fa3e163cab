"""Step 1: clean a cumulative counter into energy per 15-minute slot."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import lcm

from .scenario import SLOT_SECONDS, Reading

Span = tuple[int, int]  # [start, end) in seconds since the period start
# A delta above this x rated power x elapsed time is a jump, not energy.
JUMP_FACTOR = Fraction(11, 10)


def max_wh(rated_kw: Fraction, seconds: int) -> Fraction:
    """The most a machine of `rated_kw` can draw in `seconds` before it is a jump."""
    return JUMP_FACTOR * rated_kw * 1000 * seconds / 3600


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
    # Where the energy lies: each kept delta (start, end, Wh x scale), even over
    # its span, so the readings inside a slot say which part of it drew what.
    kept: tuple[tuple[int, int, int], ...] = ()
    scale: int = 1

    @property
    def total_wh(self) -> Fraction:
        return Fraction(sum(self.slot_wh.values()))  # int sums stay fast

    def energy(self, lo: int, hi: int) -> Fraction:
        """Wh in [lo, hi) (seconds since the period start), as the readings place it."""
        kept = self.kept
        total = Fraction(0)
        k = max(bisect_right(kept, (lo,)) - 1, 0)
        while k < len(kept) and kept[k][0] < hi:
            a, b, delta = kept[k]
            overlap = min(hi, b) - max(lo, a)
            if overlap > 0:
                total += Fraction(delta * overlap, b - a)
            k += 1
        return total / self.scale


def clean_counter(readings: Sequence[Reading], rated_kw: Fraction, horizon: int,
                  snapshots: Sequence[Reading] = ()) -> Cleaned:
    """Deltas of a cumulative Wh counter, spread evenly over the slots they cover.

    A decrease is a reset (the counter restarted from zero, so the delta is the
    reading); a delta above 1.1 x rated power x elapsed time is rejected and its
    span becomes a gap. Energy outside [0, horizon) seconds is dropped.

    `snapshots`, the counter as read when sessions started and ended (the
    nodes' snapshots on their session events), join the readings where they
    agree (with_snapshots): they say exactly where in a slot a session began
    and ended, which step 3 cuts the slot at.
    """
    if snapshots:
        readings = with_snapshots(readings, snapshots, rated_kw)
    return _clean(readings, rated_kw, horizon)


def with_snapshots(readings: Sequence[Reading], snapshots: Sequence[Reading],
                   rated_kw: Fraction) -> list[Reading]:
    """The readings with the snapshots, where the two agree. A snapshot has its
    moment exactly; a reading may be stamped later than it was read (the api's
    are each slot's last, stamped with the slot's end). So where a step between
    neighbours is impossible, the reading gives way: one below a snapshot before
    it (read before it) unless it is below the readings before too (a counter
    that restarted: then the snapshot goes), one more than the machine draws in
    the time after a snapshot. Of two snapshots too far apart for their time,
    the later stays (a node's counter is as old as its last sample); a snapshot
    below the point before it (a restarted counter) is left out."""
    kept: list[tuple[Reading, bool]] = []
    points = sorted([(r, False) for r in readings] + [(r, True) for r in snapshots],
                    key=lambda p: (p[0].at, p[1]))
    for reading, snapshot in points:
        if _admit(kept, reading, snapshot, rated_kw):
            kept.append((reading, snapshot))
    return [reading for reading, _ in kept]


def _admit(kept: list[tuple[Reading, bool]], reading: Reading, snapshot: bool,
           rated_kw: Fraction) -> bool:
    """Whether `reading` may follow `kept`, once what gives way to it is dropped."""
    while kept:
        before, before_snapshot = kept[-1]
        step = reading.wh - before.wh
        if step < 0:
            if snapshot:
                return False
            if not before_snapshot:
                return True  # a reset between readings: as without snapshots
            earlier = next((r for r, was_snapshot in reversed(kept) if not was_snapshot), None)
            if earlier is None or reading.wh >= earlier.wh:
                return False  # read before the snapshot, stamped after it
        elif step <= max_wh(rated_kw, reading.at - before.at) or not (snapshot or before_snapshot):
            return True
        elif before_snapshot and not snapshot:
            return False
        kept.pop()
    return True


def _clean(readings: Sequence[Reading], rated_kw: Fraction, horizon: int) -> Cleaned:
    # Hot loop on integers: scale readings to a common denominator once.
    scale = lcm(*{r.wh.denominator for r in readings}) if readings else 1
    values = [r.wh.numerator * (scale // r.wh.denominator) for r in readings]
    limit = max_wh(rated_kw, scale)  # scaled Wh per second
    limit_num, limit_den = limit.numerator, limit.denominator
    slots: dict[int, int | Fraction] = {}
    covered: list[Span] = []
    rejected: list[Rejection] = []
    kept: list[tuple[int, int, int]] = []
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
        kept.append((a, b, delta))
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
        tuple(kept),
        scale,
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
