"""Step 2: estimate the energy of session time that the counters did not see."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .counters import Cleaned, Span, gaps
from .scenario import SLOT_SECONDS, Machine, Session


@dataclass(frozen=True)
class Estimate:
    member: str
    machine: str
    slot: int
    wh: Fraction


@dataclass(frozen=True)
class GapFill:
    machine: str
    session_seconds: int  # session time inside gaps
    wh_per_session_hour: Fraction
    source: str  # which rule gave the rate


def _overlap(span: Span, spans: Sequence[Span]) -> list[Span]:
    """Parts of span inside the sorted, disjoint spans."""
    lo, hi = span
    out = []
    for k in range(max(bisect_right(spans, (lo, lo)) - 1, 0), len(spans)):
        a, b = spans[k]
        if a >= hi:
            break
        if b > lo and a < hi:
            out.append((max(a, lo), min(b, hi)))
    return out


def _measured_rate(cleaned: Cleaned, sessions: Sequence[Session]) -> tuple[Fraction, int]:
    """(Wh, session seconds) over the time the counter covered."""
    seconds = sum(b - a for s in sessions for a, b in _overlap((s.start, s.end), cleaned.covered))
    return cleaned.total_wh, seconds


def fill_gaps(
    machines: Sequence[Machine],
    cleaned: Mapping[str, Cleaned],
    sessions: Mapping[str, Sequence[Session]],
    horizon: int,
) -> tuple[list[Estimate], list[GapFill]]:
    """Estimates for every session minute in a gap, by the first rule that has data:
    this machine's history, comparable machines (same kind) now, all machines now."""
    measured = {m.id: _measured_rate(cleaned[m.id], sessions.get(m.id, ())) for m in machines}

    def pooled(ids: Sequence[str]) -> Fraction | None:
        wh = sum((measured[i][0] for i in ids if measured[i][1]), Fraction(0))
        seconds = sum(measured[i][1] for i in ids)
        return wh * 3600 / seconds if seconds else None

    estimates: list[Estimate] = []
    fills: list[GapFill] = []
    for machine in machines:
        holes = gaps(cleaned[machine.id].covered, horizon)
        parts = [part for s in sessions.get(machine.id, ()) for part in _with_member(s, holes)]
        if not parts:
            continue
        comparable = [
            m.id for m in machines if m.id != machine.id and m.kind and m.kind == machine.kind
        ]
        rules = (
            (machine.history_wh_per_session_hour, "this machine's past periods"),
            (pooled(comparable), f"comparable machines ({machine.kind}) this period"),
            (pooled([m.id for m in machines]), "average of all machines this period"),
            (Fraction(0), "no data: not estimated"),
        )
        rate, source = next((r, why) for r, why in rules if r is not None)
        for member, (lo, hi) in parts:
            for slot in range(lo // SLOT_SECONDS, (hi - 1) // SLOT_SECONDS + 1):
                seconds = min(hi, (slot + 1) * SLOT_SECONDS) - max(lo, slot * SLOT_SECONDS)
                if rate:
                    estimates.append(Estimate(member, machine.id, slot, rate * seconds / 3600))
        fills.append(GapFill(machine.id, sum(hi - lo for _, (lo, hi) in parts), rate, source))
    return estimates, fills


def _with_member(session: Session, holes: Sequence[Span]) -> list[tuple[str, Span]]:
    return [(session.member, part) for part in _overlap((session.start, session.end), holes)]
