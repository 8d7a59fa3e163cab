"""Step 9: round one pool to cents with the largest-remainder method."""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from math import floor


def largest_remainder(
    total_cents: int,
    exact_cents: Mapping[str, Fraction],
    earlier: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Round exact shares (in cents, summing to total_cents) to whole cents.

    Every share is floored; the leftover cents go one each to the largest
    remainders. Ties: larger remainder, then larger exact share, then fewer
    leftover cents in `earlier` (the pools of the same split rounded before this
    one), then entry id. Without the third rule, members with identical shares
    would see the same one win the tie in every pool (up to a cent per pool
    apart in total); with it, the leftover cents alternate, and identical
    members' totals differ by at most one cent. An entry with a zero remainder
    never gets a cent, so exact whole-cent shares are kept as they are.
    """
    if sum(exact_cents.values(), Fraction(0)) != total_cents:
        raise ValueError("exact shares do not add up to the pool total")
    floors = {key: floor(value) for key, value in exact_cents.items()}
    leftover = total_cents - sum(floors.values())
    ranked = sorted(
        exact_cents,
        key=lambda key: (
            -(exact_cents[key] - floors[key]),
            -exact_cents[key],
            earlier.get(key, 0) if earlier else 0,
            key,
        ),
    )
    for key in ranked[:leftover]:
        floors[key] += 1
    return floors


def apportion(total_cents: int, weights: Mapping[str, Fraction]) -> dict[str, int]:
    """Split whole cents in proportion to non-negative weights, to the cent."""
    weight_sum = sum(weights.values(), Fraction(0))
    if weight_sum == 0:
        if total_cents:
            raise ValueError("cannot split a non-zero amount by zero weights")
        return dict.fromkeys(weights, 0)
    return largest_remainder(
        total_cents, {key: total_cents * w / weight_sum for key, w in weights.items()}
    )
