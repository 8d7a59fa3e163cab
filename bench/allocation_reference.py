"""The split engine's straightforward exact kernels: the oracle its fast ones are
checked against (tests/allocation/test_allocation_fast_path.py) and timed against
(bench/allocation.py). Never imported by the product.

Step 3 is written out slot by slot in Fractions, as docs/allocation.md states
the rule (each piece of a slot cut at session starts, ends and grace ends gets
the energy the readings put there); the sampled demand game runs on packed big
integers instead of numpy. Both must give the same cents as the engine's
defaults."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from fractions import Fraction
from itertools import pairwise

from api.allocation.attribution import MW_PER_WH, ZERO, Attributed, add_overhead
from api.allocation.counters import Cleaned
from api.allocation.demand import Shares, sampled_packed, shapley
from api.allocation.engine import Kernels, Split, allocate
from api.allocation.scenario import SLOT_SECONDS, Machine, Scenario, Session


def split_slot(
    slot: int, sessions: Sequence[Session], grace: int, cleaned: Cleaned
) -> tuple[dict[str, Fraction], Fraction]:
    """A slot's Wh per member (in session or grace), and its overhead: the rule of
    step 3 for one slot, each piece's energy where the readings put it."""
    lo, hi = slot * SLOT_SECONDS, (slot + 1) * SLOT_SECONDS
    cuts = {lo, hi}
    for s in sessions:
        cuts.update(t for t in (s.start, s.end, s.end + grace) if lo < t < hi)
    bounds = sorted(cuts)
    shares: dict[str, Fraction] = {}
    overhead = ZERO
    for p, q in pairwise(bounds):
        part = cleaned.energy(p, q)
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
    """Step 3 for one machine, slot by slot in Fractions."""
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
            overhead[slot] = Fraction(wh)
            continue
        shares, free = split_slot(slot, near, grace, cleaned)
        for member, share in shares.items():
            out.add(member, slot, band_of_slot[slot], share)
        if free:
            overhead[slot] = free
    if not overhead:
        return
    per_band: dict[int, Fraction] = {}
    for slot, wh in overhead.items():
        per_band[band_of_slot[slot]] = per_band.get(band_of_slot[slot], ZERO) + wh
    profile = [(slot, round(wh * MW_PER_WH)) for slot, wh in overhead.items()]
    add_overhead(out, machine, sessions, per_band, profile if out.with_load else [])


REFERENCE = Kernels(attribute_machine=attribute_machine, sample_shapley=sampled_packed)


def allocate_reference(scenario: Scenario) -> Split:
    return allocate(scenario, kernels=REFERENCE)


def shapley_reference(loads: Sequence[Sequence[Fraction]], samples: int, seed: int) -> Shares:
    return shapley(loads, samples, seed, sampler=sampled_packed)
