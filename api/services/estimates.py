"""What a member's use is estimated at before the split: the energy price of the
newest electricity bill (its bands' cost over their kWh)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import ElectricityBill, Site


def energy_price(session: Session, site: Site) -> dict[str, Any]:
    bill = session.scalar(select(ElectricityBill).where(ElectricityBill.site_id == site.id)
                          .order_by(ElectricityBill.period_end.desc()).limit(1))
    if bill is None:
        return {"per_kwh": None, "bill_id": None}
    kwh = sum((Decimal(b.kwh) for b in bill.bands), Decimal(0))
    cost = sum((Decimal(b.cost) for b in bill.bands), Decimal(0))
    price = (cost / kwh).quantize(Decimal("0.0001")) if kwh else None
    return {"per_kwh": None if price is None else str(price), "bill_id": bill.id,
            "period": {"start": bill.period_start.isoformat(),
                       "end": bill.period_end.isoformat()}}
