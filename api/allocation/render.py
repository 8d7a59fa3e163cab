"""Split -> a JSON-able dict, and a CSV of every member's lines."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from .engine import Split
from .pools import Line
from .statement import Statement, cents_str


def decimal_str(x: Fraction, places: int = 6) -> str:
    """A fraction as a plain decimal string, exact when it terminates within places."""
    quantum = Decimal(1).scaleb(-places)
    value = (Decimal(x.numerator) / Decimal(x.denominator)).quantize(quantum, ROUND_HALF_EVEN)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _line(line: Line, cents: int) -> dict[str, Any]:
    return {
        "pool": line.pool,
        "item": line.item,
        "basis": line.basis,
        "quantity": decimal_str(line.quantity),
        "unit": line.unit,
        "price": None if line.price is None else decimal_str(line.price),
        "key": line.key,
        "exact": decimal_str(line.exact),
        "amount": cents_str(cents),
        "note": line.note,
    }


def _statement(st: Statement) -> dict[str, Any]:
    return {
        "total": cents_str(st.total_cents),
        "pools": {name: cents_str(c) for name, c in st.pools.items()},
        "estimated": st.estimated,
        "lines": [_line(line, cents) for line, cents in st.lines],
        "explanation": st.explanation(),
    }


def split_to_dict(split: Split) -> dict[str, Any]:
    period = split.scenario.period
    result: dict[str, Any] = {
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "members": {m: _statement(st) for m, st in split.members.items()},
        "vacancy": cents_str(split.vacancy.total_cents),
        "vacancy_statement": _statement(split.vacancy),
        "total": cents_str(split.total_cents),
        "pools": {
            name: {
                "total": cents_str(pool.total_cents),
                "entries": {e: cents_str(c) for e, c in sorted(pool.cents.items())},
                "exact": {e: decimal_str(v) for e, v in sorted(pool.exact.items())},
            }
            for name, pool in split.pools.items()
        },
        "held": split.held,
        "alerts": [{"kind": a.kind, "message": a.message, "hold": a.hold} for a in split.alerts],
        "estimates": {
            "members": sorted(m for m, st in split.members.items() if st.estimated),
            "gap_fills": [
                {
                    "machine": f.machine,
                    "session_hours": decimal_str(Fraction(f.session_seconds, 3600), 3),
                    "kwh_per_session_hour": decimal_str(f.wh_per_session_hour / 1000),
                    "source": f.source,
                }
                for f in split.gap_fills
            ],
        },
    }
    result["reconciliation"] = [
        {
            "band": c.band,
            "bill_kwh": decimal_str(c.bill_kwh, 3),
            "measured_kwh": decimal_str(c.measured_kwh, 3),
            "estimated_kwh": decimal_str(c.estimated_kwh, 3),
            "main_meter_kwh": (
                None if c.main_meter_kwh is None else decimal_str(c.main_meter_kwh, 3)
            ),
            "factor": decimal_str(c.factor),
        }
        for c in split.checks
    ]
    if split.demand is not None:
        result["demand"] = {
            "method": split.demand.method,
            "building_peak_kw": decimal_str(split.demand.peak),
        }
    return result


CSV_COLUMNS = (
    "entry",
    "pool",
    "item",
    "basis",
    "quantity",
    "unit",
    "price",
    "key",
    "amount",
    "note",
)


def split_to_csv(split: Split) -> str:
    """Every line of every member (and the vacancy account), then a total row each."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry, st in [*sorted(split.members.items()), ("vacancy", split.vacancy)]:
        for line, cents in st.lines:
            row = _line(line, cents)
            writer.writerow(
                [entry, *(row[c] if row[c] is not None else "" for c in CSV_COLUMNS[1:])]
            )
        writer.writerow([entry, "total", "", "", "", "", "", "", cents_str(st.total_cents), ""])
    return out.getvalue()
