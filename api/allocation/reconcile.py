"""Step 4: reconcile attributed kWh with the bill (and main meter), per band."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .alerts import Alert
from .scenario import Band

Table = dict[str, dict[str, Fraction]]  # member -> band -> kWh


@dataclass(frozen=True)
class Reconciled:
    kwh: Table  # what members are charged for, after any scaling down
    measured: Table
    estimated: Table
    factor: dict[str, Fraction]  # band -> scale factor (1: not scaled)
    remainder: dict[str, Fraction]  # band -> kWh left for the common pool
    alerts: tuple[Alert, ...]


def _pct(x: Fraction) -> str:
    return f"{float(x * 100):.1f}%"


def reconcile(
    bands: Sequence[Band],
    measured: Mapping[str, Mapping[str, Fraction]],
    estimated: Mapping[str, Mapping[str, Fraction]],
    tolerance: Fraction,
    main_meter: Mapping[str, Fraction] | None = None,
) -> Reconciled:
    """Scale a band down when members were attributed more kWh than the bill has;
    beyond the tolerance, raise an alert that holds the statements."""
    members = sorted(set(measured) | set(estimated))
    alerts: list[Alert] = []
    factor: dict[str, Fraction] = {}
    remainder: dict[str, Fraction] = {}
    kwh: Table = {m: {} for m in members}
    for band in bands:
        used = {
            m: measured.get(m, {}).get(band.name, Fraction(0))
            + estimated.get(m, {}).get(band.name, Fraction(0))
            for m in members
        }
        attributed = sum(used.values(), Fraction(0))
        scale = Fraction(1)
        if attributed > band.kwh:
            scale = band.kwh / attributed
            excess = attributed / band.kwh - 1 if band.kwh else Fraction(1)
            beyond = band.kwh == 0 or excess > tolerance
            alerts.append(
                Alert(
                    "reconciliation",
                    f"band {band.name}: members attributed {float(attributed):.3f} kWh, "
                    f"the bill has {float(band.kwh):.3f} kWh ({_pct(excess)} over"
                    + (
                        f", beyond the {_pct(tolerance)} tolerance); scaled down"
                        if beyond
                        else "); scaled down"
                    ),
                    hold=beyond,
                )
            )
        if main_meter is not None and band.kwh:
            main = main_meter.get(band.name, Fraction(0))
            gap = abs(main - band.kwh) / band.kwh
            if gap > tolerance:
                alerts.append(
                    Alert(
                        "reconciliation",
                        f"band {band.name}: main meter {float(main):.3f} kWh "
                        f"vs bill {float(band.kwh):.3f} kWh differ by {_pct(gap)}, "
                        f"beyond the {_pct(tolerance)} tolerance",
                        hold=True,
                    )
                )
        factor[band.name] = scale
        for m in members:
            if used[m]:
                kwh[m][band.name] = used[m] * scale
        remainder[band.name] = band.kwh - attributed * scale
    return Reconciled(
        kwh,
        {m: dict(v) for m, v in measured.items()},
        {m: dict(v) for m, v in estimated.items()},
        factor,
        remainder,
        tuple(alerts),
    )


@dataclass(frozen=True)
class BandCheck:
    """One band of the bill against what the members were attributed and what the
    building's main meter counted: what the treasurer reviews."""

    band: str
    bill_kwh: Fraction
    measured_kwh: Fraction
    estimated_kwh: Fraction
    main_meter_kwh: Fraction | None  # None: no main meter in the input
    factor: Fraction  # the scale applied to the members' kWh (1: none)


def band_checks(
    bands: Sequence[Band], rec: Reconciled, main_meter: Mapping[str, Fraction] | None
) -> tuple[BandCheck, ...]:
    def total(table: Table, band: str) -> Fraction:
        return sum((row.get(band, Fraction(0)) for row in table.values()), Fraction(0))

    return tuple(
        BandCheck(
            band.name,
            band.kwh,
            total(rec.measured, band.name),
            total(rec.estimated, band.name),
            None if main_meter is None else main_meter.get(band.name, Fraction(0)),
            rec.factor.get(band.name, Fraction(1)),
        )
        for band in bands
    )
