"""Step 3: machine and sub-meter energy to members, slot by slot."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise

from .counters import Cleaned
from .gaps import Estimate
from .scenario import SLOT_SECONDS, SLOTS_PER_DAY, Machine, Scenario, Session

ZERO = Fraction(0)


@dataclass
class Attributed:
    """What steps 1-3 found, per member, band and slot (all in Wh)."""

    measured: dict[str, dict[int, Fraction]] = field(default_factory=dict)  # member -> band -> Wh
    estimated: dict[str, dict[int, Fraction]] = field(default_factory=dict)
    load: dict[str, dict[int, Fraction]] = field(default_factory=dict)  # member -> slot -> Wh
    sources: dict[str, dict[str, Fraction]] = field(default_factory=dict)  # member -> what -> Wh
    unattributed: dict[str, Fraction] = field(default_factory=dict)  # why -> Wh

    # Per machine: (each member's share of its overhead, overhead Wh per slot).
    overhead: list[tuple[dict[str, Fraction], dict[int, Fraction]]] = field(default_factory=list)

    def add(
        self, member: str, slot: int, band: int, wh: Fraction, what: str, *, estimated: bool = False
    ) -> None:
        self.add_band(member, band, wh, what, estimated=estimated)
        slots = self.load.setdefault(member, {})
        slots[slot] = slots.get(slot, ZERO) + wh

    def add_band(
        self, member: str, band: int, wh: Fraction, what: str, *, estimated: bool = False
    ) -> None:
        table = self.estimated if estimated else self.measured
        bands = table.setdefault(member, {})
        bands[band] = bands.get(band, ZERO) + wh
        sources = self.sources.setdefault(member, {})
        sources[what] = sources.get(what, ZERO) + wh

    def lose(self, why: str, wh: Fraction) -> None:
        self.unattributed[why] = self.unattributed.get(why, ZERO) + wh


def _split_slot(
    slot: int, sessions: Sequence[Session], grace: int
) -> tuple[dict[str, Fraction], Fraction]:
    """Fractions of a slot's energy per member (in session or grace), and overhead."""
    lo, hi = slot * SLOT_SECONDS, (slot + 1) * SLOT_SECONDS
    cuts = {lo, hi}
    for s in sessions:
        cuts.update(t for t in (s.start, s.end, s.end + grace) if lo < t < hi)
    bounds = sorted(cuts)
    shares: dict[str, Fraction] = {}
    overhead = ZERO
    for p, q in pairwise(bounds):
        part = Fraction(q - p, SLOT_SECONDS)
        active = [s.member for s in sessions if s.start <= p < s.end]
        if not active:
            ended = [s for s in sessions if s.end <= p < s.end + grace]
            last = max((s.end for s in ended), default=None)
            active = [s.member for s in ended if s.end == last]
        if not active:
            overhead += part
            continue
        for member in active:  # concurrent users share the time equally
            shares[member] = shares.get(member, ZERO) + part / len(active)
    return shares, overhead


def attribute_machine(
    out: Attributed,
    machine: Machine,
    cleaned: Cleaned,
    sessions: Sequence[Session],
    band_of_slot: Sequence[int],
) -> None:
    grace = machine.grace_s
    touching: dict[int, list[Session]] = defaultdict(list)
    for s in sessions:
        for slot in range(s.start // SLOT_SECONDS, (s.end + grace - 1) // SLOT_SECONDS + 1):
            touching[slot].append(s)
    overhead: dict[int, Fraction] = {}
    for slot, wh in cleaned.slot_wh.items():
        if not wh:
            continue
        near = touching.get(slot)
        if near is None:
            overhead[slot] = wh
            continue
        shares, idle = _split_slot(slot, near, grace)
        for member, share in shares.items():
            out.add(member, slot, band_of_slot[slot], wh * share, f"{machine.id} in use")
        if idle:
            overhead[slot] = wh * idle
    if not overhead:
        return
    minutes: dict[str, int] = defaultdict(int)
    for s in sessions:
        minutes[s.member] += s.end - s.start
    total = sum(minutes.values())
    if not total:
        out.lose(f"{machine.id}: no sessions", sum(overhead.values(), ZERO))
        return
    # Overhead is summed per band for the energy pool; its slot profile is kept
    # once per machine, not once per user, for the demand loads.
    per_band: dict[int, Fraction] = {}
    for slot, wh in overhead.items():
        per_band[band_of_slot[slot]] = per_band.get(band_of_slot[slot], ZERO) + wh
    shares = {member: Fraction(seconds, total) for member, seconds in minutes.items()}
    for member, share in shares.items():
        for band, wh in per_band.items():
            out.add_band(member, band, wh * share, f"{machine.id} overhead")
    out.overhead.append((shares, overhead))


def attribute(
    scenario: Scenario,
    machines: Mapping[str, Cleaned],
    submeters: Sequence[Cleaned],
    estimates: Sequence[Estimate],
    band_of_slot: Sequence[int],
) -> Attributed:
    out = Attributed()
    by_machine: dict[str, list[Session]] = defaultdict(list)
    for s in scenario.sessions:
        by_machine[s.machine].append(s)
    for machine in scenario.machines:
        attribute_machine(out, machine, machines[machine.id], by_machine[machine.id], band_of_slot)
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
                out.lose(f"sub-meter {meter.unit} while vacant", wh)
            else:
                out.add(tenant, slot, band_of_slot[slot], wh, f"sub-meter {meter.unit}")
    for e in estimates:
        out.add(
            e.member, e.slot, band_of_slot[e.slot], e.wh, f"{e.machine} estimated", estimated=True
        )
    return out
