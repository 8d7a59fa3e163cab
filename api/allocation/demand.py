"""Step 6: the demand charge, by Shapley value (default) or coincident peak.

The game: v(S) = K_D x (peak of the summed load of coalition S) / building
peak. Loads are scaled to integers once; the peak of a coalition over all
intervals is then a big-integer addition of packed per-player vectors
followed by a C-level max over its fields, so no Python loop runs per
interval in the hot path.
"""

from __future__ import annotations

import random
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from math import factorial, lcm
from operator import add
from typing import Literal

import numpy as np

# Exact enumeration of 2^n coalitions while 2^n x (intervals + 16) stays under
# this budget (a few tenths of a second); above it, seeded sampling.
EXACT_BUDGET = 1 << 22
EXACT_MAX_PLAYERS = 20
_ORDER: Literal["little", "big"] = "little" if sys.byteorder == "little" else "big"
MAX_SCALE = 10**6  # kW to milliwatts
# Dominance pruning compares each interval with this many of the highest ones.
PRUNE_AGAINST = 64


@dataclass(frozen=True)
class Shares:
    """Each player's part of the building peak, in kW; they sum to the peak."""

    kw: tuple[Fraction, ...]
    peak: Fraction
    method: str  # "shapley (exact)", "shapley (2000 orderings, seed 0)", "coincident peak"


def scale_to_int(loads: Sequence[Sequence[Fraction]]) -> tuple[list[list[int]], int]:
    """Loads as integers over one common denominator.

    Loads derived from counters carry denominators such as 1/7 of a session
    split; past a milliwatt the game gains nothing but huge integers, so such
    loads are rounded to the milliwatt (the money stays exact: shares are
    priced at K_D over the peak of the loads the game saw).
    """
    scale = lcm(1, *{x.denominator for row in loads for x in row})
    if scale > MAX_SCALE:
        return [[round(x * MAX_SCALE) for x in row] for row in loads], MAX_SCALE
    return [[x.numerator * (scale // x.denominator) for x in row] for row in loads], scale


def _prune(columns: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Drop intervals that cannot be any coalition's peak: duplicates and intervals
    dominated (every player's load lower or equal) by one of the highest ones."""
    unique = sorted(set(columns), key=sum, reverse=True)
    if not unique or max(max(col) for col in unique) >= 1 << 62:
        return _prune_packed(unique)
    loads = np.array(unique, dtype=np.int64)
    top = loads[:PRUNE_AGAINST]
    keep = np.ones(len(unique), dtype=bool)
    # Distinct columns: one dominates another iff >= everywhere and not equal.
    step = max(1, (1 << 22) // (len(top) * loads.shape[1]))
    for lo in range(0, len(unique), step):
        chunk = loads[lo : lo + step, None, :]
        above = (top[None, :, :] >= chunk).all(axis=2)
        same = (top[None, :, :] == chunk).all(axis=2)
        keep[lo : lo + step] = ~(above & ~same).any(axis=1)
    return [col for col, kept in zip(unique, keep.tolist(), strict=True) if kept]


def _prune_packed(unique: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """The same on packed big integers, for loads too large for int64."""
    width = max((x for col in unique for x in col), default=0).bit_length() + 1
    guard = sum(1 << (width * i + width - 1) for i in range(len(unique[0]) if unique else 0))

    def pack(col: tuple[int, ...]) -> int:
        return sum(x << (width * i) for i, x in enumerate(col))

    kept: list[tuple[int, ...]] = []
    packed: list[int] = []
    for col in unique:
        p = pack(col)
        # k >= col field by field iff no guard bit borrows in (k | guard) - col.
        if any(((k | guard) - p) & guard == guard for k in packed[:PRUNE_AGAINST]):
            continue
        kept.append(col)
        packed.append(p)
    return kept


class _Peaks:
    """Coalition peaks through packed integers: one field per interval.

    Intervals are stored by decreasing building total, so the peak of a
    coalition known to be at least `floor` lies among the intervals whose
    total reaches `floor`: only that prefix of the fields is scanned.
    """

    def __init__(self, columns: list[tuple[int, ...]], players: int) -> None:
        columns = sorted(columns, key=sum, reverse=True)
        top = sum(columns[0])
        if top >= 1 << 64:
            raise OverflowError("loads too large to pack")
        self.code: Literal["I", "Q"] = "I" if top < 1 << 32 else "Q"
        size = 4 if self.code == "I" else 8
        self.nbytes = len(columns) * size
        self.size = size
        self.neg_totals = [-sum(col) for col in columns]
        self.vectors = [
            int.from_bytes(b"".join(col[i].to_bytes(size, _ORDER) for col in columns), _ORDER)
            for i in range(players)
        ]

    def peak(self, packed: int, floor: int = 0) -> int:
        """max over intervals of the packed load, given that it is >= floor."""
        reach = bisect_right(self.neg_totals, -floor) if floor else len(self.neg_totals)
        fields = memoryview(packed.to_bytes(self.nbytes, _ORDER))[: max(reach, 1) * self.size]
        return max(fields.cast(self.code))


def _exact(peaks: _Peaks, n: int) -> list[Fraction]:
    low_n = n // 2
    low = [0]
    for i in range(low_n):
        low += [p + peaks.vectors[i] for p in low]
    high = [0]
    for i in range(low_n, n):
        high += [p + peaks.vectors[i] for p in high]
    peak = peaks.peak
    low_peaks = [peak(lo) for lo in low]
    values: list[int] = []
    for h in high:
        ph = peak(h)
        # A coalition peaks at least as high as either of its halves.
        values.extend([peak(h + lo, max(ph, pl)) for lo, pl in zip(low, low_peaks, strict=True)])
    # n! phi_i = sum over S containing i of c(S) - sum over all S of b(S), with
    # a(s) = (s-1)!(n-s)! v(S) and b(s) = s!(n-s-1)! v(S), c = a + b.
    a = [factorial(s - 1) * factorial(n - s) if s else 0 for s in range(n + 1)]
    b = [factorial(s) * factorial(n - s - 1) if s < n else 0 for s in range(n + 1)]
    sizes = [0]
    for _ in range(n):
        sizes += [s + 1 for s in sizes]
    total_b = sum(b[s] * v for s, v in zip(sizes, values, strict=True))
    c = [(a[s] + b[s]) * v for s, v in zip(sizes, values, strict=True)]
    with_bit = [0] * n
    for bit in range(n - 1, -1, -1):
        half = 1 << bit
        with_bit[bit] = sum(c[half:])
        c = list(map(add, c[:half], c[half:]))
    return [Fraction(with_bit[i] - total_b, factorial(n)) for i in range(n)]


def _orderings(n: int, samples: int, seed: int) -> Iterator[list[int]]:
    """The seeded random orderings, the same for both samplers."""
    rng = random.Random(seed)
    order = list(range(n))
    for _ in range(samples):
        rng.shuffle(order)
        yield order


# Mean marginal contribution of each of n players over `samples` seeded orderings,
# given the game's columns (one tuple of player loads per interval).
Sampler = Callable[[list[tuple[int, ...]], int, int, int], list[Fraction]]


def sampled_packed(
    columns: list[tuple[int, ...]], n: int, samples: int, seed: int
) -> list[Fraction]:
    """Mean marginal contribution over seeded orderings, on packed big integers:
    no bound on the loads (and the straightforward version of `_sampled_np`)."""
    peaks = _Peaks(columns, n)
    totals = [0] * n
    peak, vectors = peaks.peak, peaks.vectors
    for order in _orderings(n, samples, seed):
        previous = 0
        for i, running in zip(order, accumulate(vectors[i] for i in order), strict=True):
            current = peak(running, previous)
            totals[i] += current - previous  # every ordering hands out exactly v(N)
            previous = current
    return [Fraction(t, samples) for t in totals]


def _sampled_np(columns: list[tuple[int, ...]], n: int, samples: int, seed: int) -> list[Fraction]:
    """The same orderings in int64 arrays, a batch of orderings at a time: the
    running coalition loads are cumulative sums over the ordered players, each
    prefix's peak is their max over the intervals, and a player's marginal is
    the increase of that peak. All integers, so the totals equal `sampled_packed`'s."""
    loads = np.array(columns, dtype=np.int64).T.copy()  # player x interval
    intervals = loads.shape[1]
    batch = max(1, (1 << 22) // (n * intervals))
    totals = np.zeros(n, dtype=np.int64)
    orders = np.array([list(order) for order in _orderings(n, samples, seed)], dtype=np.intp)
    for lo in range(0, samples, batch):
        ordered = orders[lo : lo + batch]
        running = np.cumsum(loads[ordered], axis=1)  # batch x player x interval
        peaks = running.max(axis=2)
        marginal = np.diff(peaks, axis=1, prepend=0)
        np.add.at(totals, ordered.ravel(), marginal.ravel())
    return [Fraction(int(t), samples) for t in totals]


def sample(columns: list[tuple[int, ...]], n: int, samples: int, seed: int) -> list[Fraction]:
    """The sampled game in int64 arrays while its sums fit, else on big integers."""
    building = max(sum(col) for col in columns)
    if building * samples >= 1 << 62:
        return sampled_packed(columns, n, samples, seed)
    return _sampled_np(columns, n, samples, seed)


def shapley(
    loads: Sequence[Sequence[Fraction]], samples: int, seed: int, *, sampler: Sampler = sample
) -> Shares:
    """Shapley value of the peak game; loads[player][interval] in kW, non-negative."""
    ints, scale = scale_to_int(loads)
    return shapley_scaled(ints, scale, samples, seed, sampler=sampler)


def shapley_scaled(
    ints: Sequence[Sequence[int]], scale: int, samples: int, seed: int, *, sampler: Sampler = sample
) -> Shares:
    """The same on integer loads in units of 1/scale kW. `sampler` plays the game
    when it is too large to enumerate (the tests swap in `sampled_packed`)."""
    n = len(ints)
    # A player without load adds nothing to any coalition: its value is 0 and
    # leaving it out changes no one else's, but can make the game small enough
    # to be exact.
    active = [i for i in range(n) if any(ints[i])]
    columns = _prune(list(zip(*(ints[i] for i in active), strict=True)))
    building = max((sum(col) for col in columns), default=0)
    result = [Fraction(0)] * n
    if not active or building == 0:
        return Shares(tuple(result), Fraction(0), "shapley")
    m = len(active)
    # Sampled orderings must not depend on names: order players by their loads,
    # then give identical players the mean of their estimates.
    order = sorted(range(m), key=lambda k: tuple(ints[active[k]]))
    ordered = [tuple(col[k] for k in order) for col in columns]
    if m <= EXACT_MAX_PLAYERS and (1 << m) * (len(columns) + 16) <= EXACT_BUDGET:
        values, method = _exact(_Peaks(ordered, m), m), "shapley (exact)"
    else:
        values = sampler(ordered, m, samples, seed)
        method = f"shapley (mean of {samples} orderings, seed {seed})"
        groups: dict[tuple[int, ...], list[int]] = {}
        for pos, k in enumerate(order):
            groups.setdefault(tuple(ints[active[k]]), []).append(pos)  # identical players
        for members in groups.values():
            mean = sum((values[p] for p in members), Fraction(0)) / len(members)
            for p in members:
                values[p] = mean
    for pos, k in enumerate(order):
        result[active[k]] = values[pos] / scale
    return Shares(tuple(result), Fraction(building, scale), method)


def coincident_peak(loads: Sequence[Sequence[Fraction]]) -> Shares:
    """Each player's load at the building's peak (the mean over tied peak intervals)."""
    totals = [sum(col, Fraction(0)) for col in zip(*loads, strict=True)]
    peak = max(totals, default=Fraction(0))
    at_peak = [t for t, total in enumerate(totals) if total == peak]
    if not peak:
        return Shares(tuple(Fraction(0) for _ in loads), peak, "coincident peak")
    return Shares(
        tuple(sum((row[t] for t in at_peak), Fraction(0)) / len(at_peak) for row in loads),
        peak,
        "coincident peak",
    )


def alone(loads: Sequence[Fraction]) -> Fraction:
    """A player's own peak: what they would be charged for alone."""
    return max(loads, default=Fraction(0))
