"""Step 3: machine and sub-meter energy to members, slot by slot."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from math import lcm

from .counters import Cleaned
from .gaps import Estimate
from .scenario import SLOT_SECONDS, SLOTS_PER_DAY, Machine, Scenario, Session

ZERO = Fraction(0)
MW_PER_WH = 4000  # a 15-minute slot's Wh x 4 is its mean W; in milliwatts


@dataclass
class Attributed:
    """What steps 1-3 found, per member, band and slot (all in Wh)."""

    measured: dict[str, dict[int, Fraction]] = field(default_factory=dict)  # member -> band -> Wh
    estimated: dict[str, dict[int, Fraction]] = field(default_factory=dict)
    # member -> slot -> Wh as (numerator, denominator), not reduced; only filled when
    # demand loads are derived from the slots.
    load: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)
    unattributed: dict[str, Fraction] = field(default_factory=dict)  # why -> Wh
    # Per machine: (each member's share of its overhead, overhead per slot in mW), the
    # profile only when demand loads are derived.
    overhead: list[tuple[dict[str, Fraction], list[tuple[int, int]]]] = field(default_factory=list)
    with_load: bool = False

    def add(
        self, member: str, slot: int, band: int, wh: Fraction, *, estimated: bool = False
    ) -> None:
        self.add_band(member, band, wh, estimated=estimated)
        if self.with_load:
            self.add_load(member, slot, wh.numerator, wh.denominator)

    def add_load(self, member: str, slot: int, num: int, den: int) -> None:
        slots = self.load.setdefault(member, {})
        had = slots.get(slot)
        if had is None:
            slots[slot] = (num, den)
        elif had[1] == den:
            slots[slot] = (had[0] + num, den)
        else:
            common = lcm(had[1], den)
            slots[slot] = (had[0] * (common // had[1]) + num * (common // den), common)

    def add_band(self, member: str, band: int, wh: Fraction, *, estimated: bool = False) -> None:
        table = self.estimated if estimated else self.measured
        bands = table.setdefault(member, {})
        bands[band] = bands.get(band, ZERO) + wh

    def lose(self, why: str, wh: Fraction) -> None:
        self.unattributed[why] = self.unattributed.get(why, ZERO) + wh


def mw_of(num: int, den: int) -> int:
    """Mean milliwatts over a slot of num/den Wh, rounded half to even like round()."""
    q, r = divmod(num * MW_PER_WH, den)
    twice = 2 * r
    return q + 1 if twice > den or (twice == den and q % 2) else q


# slot -> (members, from, to): who holds [from, to) of it, in seconds since the period start
Occupancy = dict[int, list[tuple[tuple[str, ...], int, int]]]


def occupancy(sessions: Sequence[Session], grace: int) -> Occupancy:
    """Per slot: who holds which part of it (step 3: the members in session
    share the time equally; in a gap, those whose grace window runs, the latest
    ended first).

    One sweep over the machine's session starts, ends and grace-window ends: the
    holders are constant between two of them. A member in two concurrent
    sessions appears twice."""
    opening: dict[int, list[Session]] = defaultdict(list)
    closing: dict[int, list[Session]] = defaultdict(list)
    grace_over: dict[int, list[Session]] = defaultdict(list)
    for s in sessions:
        opening[s.start].append(s)
        closing[s.end].append(s)
        if grace:
            grace_over[s.end + grace].append(s)
    points = sorted({*opening, *closing, *grace_over})
    active: list[Session] = []
    ending: list[Session] = []  # sessions in their grace window
    out: Occupancy = defaultdict(list)
    for p, q in pairwise(points):
        for s in closing.get(p, ()):
            active.remove(s)
            if grace:
                ending.append(s)
        for s in grace_over.get(p, ()):
            ending.remove(s)
        active.extend(opening.get(p, ()))
        if len(active) == 1:
            holders: tuple[str, ...] = (active[0].member,)
        elif active:
            holders = tuple(sorted(s.member for s in active))
        elif ending:
            latest = max(s.end for s in ending)
            holders = tuple(sorted(s.member for s in ending if s.end == latest))
        else:
            continue
        first, last = p // SLOT_SECONDS, (q - 1) // SLOT_SECONDS
        if first == last:
            out[first].append((holders, p, q))
            continue
        out[first].append((holders, p, (first + 1) * SLOT_SECONDS))
        for slot in range(first + 1, last):
            out[slot].append((holders, slot * SLOT_SECONDS, (slot + 1) * SLOT_SECONDS))
        out[last].append((holders, last * SLOT_SECONDS, q))
    return out


def _overhead_shares(sessions: Sequence[Session]) -> dict[str, Fraction]:
    seconds: dict[str, int] = defaultdict(int)
    for s in sessions:
        seconds[s.member] += s.end - s.start
    total = sum(seconds.values())
    return {member: Fraction(t, total) for member, t in seconds.items()} if total else {}


def add_overhead(
    out: Attributed,
    machine: Machine,
    sessions: Sequence[Session],
    per_band: dict[int, Fraction],
    profile: list[tuple[int, int]],
) -> None:
    """Overhead is summed per band for the energy pool; its slot profile is kept
    once per machine, not once per user, for the demand loads."""
    shares = _overhead_shares(sessions)
    if not shares:
        out.lose(f"{machine.id}: no sessions", sum(per_band.values(), ZERO))
        return
    for member, share in shares.items():
        for band, wh in per_band.items():
            out.add_band(member, band, wh * share)
    out.overhead.append((shares, profile))


def attribute_machine(
    out: Attributed,
    machine: Machine,
    cleaned: Cleaned,
    sessions: Sequence[Session],
    band_of_slot: Sequence[int],
) -> None:
    """Step 3 for one machine on integers: every Wh share is numerator / denominator,
    kept as integer numerators per denominator (few distinct ones) that become
    Fractions once per member and band. A slot held whole by the same members
    goes to them whole; a slot cut by a session's start or end is shared by
    where its energy lies (`Cleaned.energy`: evenly between two readings), so a
    reading at the cut separates the session's energy from the rest exactly."""
    held = occupancy(sessions, machine.grace_s)
    used: dict[tuple[str, int], dict[int, int]] = defaultdict(dict)  # (member, band) -> sum
    idle: dict[int, dict[int, int]] = defaultdict(dict)  # band -> den -> num
    profile: list[tuple[int, int]] = []
    with_load = out.with_load
    for slot, wh in cleaned.slot_wh.items():
        if not wh:
            continue
        num, den = wh.numerator, wh.denominator
        band = band_of_slot[slot]
        parts = held.get(slot, ())
        if len(parts) == 1 and parts[0][2] - parts[0][1] == SLOT_SECONDS:
            shares = [(parts[0][0], num, den)]  # the common case: one holder, whole slot
            free = (0, 1)
        else:
            shares, free = _cut(cleaned, parts, num, den)
        for holders, part, part_den in shares:
            part_den *= len(holders)
            for member in holders:
                acc = used[member, band]
                acc[part_den] = acc.get(part_den, 0) + part
                if with_load:
                    out.add_load(member, slot, part, part_den)
        if free[0]:
            acc = idle[band]
            acc[free[1]] = acc.get(free[1], 0) + free[0]
            if with_load:
                profile.append((slot, mw_of(*free)))
    for (member, band), acc in sorted(used.items()):
        out.add_band(member, band, _total(acc))
    if idle:
        per_band = {band: _total(acc) for band, acc in sorted(idle.items())}
        add_overhead(out, machine, sessions, per_band, profile)


def _cut(cleaned: Cleaned, parts: Sequence[tuple[tuple[str, ...], int, int]], num: int,
         den: int) -> tuple[list[tuple[tuple[str, ...], int, int]], tuple[int, int]]:
    """A slot of num/den Wh cut into its holders' parts: (holders, Wh numerator,
    denominator) each, and the rest (numerator, denominator), the overhead."""
    shares = []
    rest = Fraction(num, den)
    for holders, lo, hi in parts:
        wh = cleaned.energy(lo, hi)
        rest -= wh
        shares.append((holders, wh.numerator, wh.denominator))
    return shares, (rest.numerator, rest.denominator)


# attribute_machine's signature: (out, machine, cleaned, its sessions, band of each slot).
MachineStep = Callable[[Attributed, Machine, Cleaned, Sequence[Session], Sequence[int]], None]


def _total(acc: dict[int, int]) -> Fraction:
    return sum((Fraction(num, den) for den, num in acc.items()), ZERO)


def attribute(
    scenario: Scenario,
    machines: Mapping[str, Cleaned],
    submeters: Sequence[Cleaned],
    estimates: Sequence[Estimate],
    band_of_slot: Sequence[int],
    *,
    with_load: bool = False,
    step: MachineStep = attribute_machine,
) -> Attributed:
    """Steps 3 for all machines, sub-meters and estimates. with_load keeps each
    member's energy per slot (for demand loads derived from the slots); `step`
    attributes one machine (the tests swap in a slot-by-slot version)."""
    out = Attributed(with_load=with_load)
    by_machine: dict[str, list[Session]] = defaultdict(list)
    for s in scenario.sessions:
        by_machine[s.machine].append(s)
    for machine in scenario.machines:
        step(out, machine, machines[machine.id], by_machine[machine.id], band_of_slot)
    for meter, cleaned in zip(scenario.submeters, submeters, strict=True):
        tenant_of_day = {
            (lease.start - scenario.period.start).days + d: lease.member
            for lease in scenario.leases
            if lease.unit == meter.unit
            for d in range((lease.end - lease.start).days + 1)
        }
        for slot, wh in cleaned.slot_wh.items():
            tenant = tenant_of_day.get(slot // SLOTS_PER_DAY)
            if tenant is None:
                out.lose(f"sub-meter {meter.unit} while vacant", Fraction(wh))
            else:
                out.add(tenant, slot, band_of_slot[slot], Fraction(wh))
    for e in estimates:
        out.add(e.member, e.slot, band_of_slot[e.slot], e.wh, estimated=True)
    return out
