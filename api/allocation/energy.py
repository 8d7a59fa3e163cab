"""Step 5: energy charges per band, and the unattributed remainder."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from .keys import Key
from .pools import ExactPool, Line, money, qty
from .reconcile import Reconciled
from .scenario import Band

COMMON = "common"
# Step 2: a pool that rests more than this much on estimates goes by the fixed key.
ESTIMATE_LIMIT = Fraction(1, 4)


def estimate_share(bands: Sequence[Band], rec: Reconciled) -> Fraction:
    """Estimated part of the attributed energy cost."""
    price = {b.name: b.price for b in bands}
    charged = sum(
        (price[b] * kwh for row in rec.kwh.values() for b, kwh in row.items()), Fraction(0)
    )
    estimated = sum(
        (
            price[b] * kwh * rec.factor[b]
            for row in rec.estimated.values()
            for b, kwh in row.items()
        ),
        Fraction(0),
    )
    return estimated / charged if charged else Fraction(0)


def _basis(rec: Reconciled, member: str, band: str) -> str:
    measured = rec.measured.get(member, {}).get(band, Fraction(0))
    estimated = rec.estimated.get(member, {}).get(band, Fraction(0))
    if measured and estimated:
        return "measured+estimated"
    return "estimated" if estimated else "measured"


def energy_pool(bands: Sequence[Band], rec: Reconciled) -> ExactPool:
    """p_b = K_b / M_b times each member's kWh; the remainder to the common pool."""
    pool = ExactPool("energy", sum((b.cost for b in bands), Fraction(0)))
    for member in sorted(rec.kwh):
        for band in bands:
            kwh = rec.kwh[member].get(band.name)
            if not kwh:
                continue
            basis = _basis(rec, member, band.name)
            note = f"{qty(kwh)} kWh {basis} in band {band.name} at {money(band.price)}/kWh"
            if rec.factor[band.name] != 1:
                note += f" (scaled by {float(rec.factor[band.name]):.4f} to the bill's kWh)"
            pool.add(
                member,
                Line(
                    "energy", band.name, basis, kwh, "kWh", band.price, None, band.price * kwh, note
                ),
            )
    for band in bands:
        rest = rec.remainder[band.name]
        if rest:
            note = (
                f"{qty(rest)} kWh in band {band.name} not attributed to anyone, "
                f"at {money(band.price)}/kWh"
            )
            pool.add(
                COMMON,
                Line(
                    "energy",
                    band.name,
                    "remainder",
                    rest,
                    "kWh",
                    band.price,
                    None,
                    band.price * rest,
                    note,
                ),
            )
    return pool


def keyed_pool(name: str, item: str, total: Fraction, key: Key, reason: str = "") -> ExactPool:
    """A whole pool split by a key (the fixed key, the heating keys)."""
    pool = ExactPool(name, total)
    add_keyed(pool, item, total, key, reason)
    return pool


def add_keyed(pool: ExactPool, item: str, amount: Fraction, key: Key, reason: str = "") -> None:
    """Add lines splitting an amount by a key to a pool."""
    weight_sum = sum(key.weights.values(), Fraction(0))
    for entry in sorted(key.weights):
        weight = key.weights[entry]
        if not weight or not amount:
            continue
        key_text = f"{qty(weight)} of {qty(weight_sum)} {key.unit_name}"
        note = f"{item}: {money(amount)} x {key_text}{reason}"
        share = amount * weight / weight_sum
        pool.add(
            entry, Line(pool.name, item, "key", weight, key.unit_name, None, key_text, share, note)
        )
