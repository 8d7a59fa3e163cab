"""A member's statement from a stored split: who may see it, as a dict and as a PDF page."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, NamedTuple

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import AllocationRun, ElectricityBill, Member, Site, User
from api.services.errors import Conflict, Forbidden, NotFound
from api.services.pdf_table import draw_table
from api.services.records import get
from api.services.splits import latest_run

# Decimals a person reads per unit; the split itself keeps exact figures (JSON, CSV).
PLACES = {"kWh": 1, "kW": 2, "m2": 1, "m2·days": 1, "m2·degree-days": 1, "days": 0}
KEY_TEXT = re.compile(r"^(?P<part>[\d,.]+) of (?P<whole>[\d,.]+) (?P<unit>.+)$")

# Who sees every member's statement, held or not.
_BOOKKEEPERS = ("treasurer", "admin")


def member_statement(result: dict[str, Any], code: str) -> dict[str, Any] | None:
    if code == "vacancy":
        statement: dict[str, Any] | None = result.get("vacancy_statement")
        return statement
    statement = result.get("members", {}).get(code)
    return statement


def _latin1(text: str) -> str:
    # The PDF core fonts cover Latin-1; anything else becomes a '?' rather than an error.
    return text.encode("latin-1", "replace").decode("latin-1")


def _unit(unit: str) -> str:
    return unit.replace("m2", "m²")


def _figure(value: str, unit: str) -> str:
    places = PLACES.get(unit, 2)
    number = Decimal(value.replace(",", "")).quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN)
    return f"{number:,.{places}f}"


def quantity_for_people(value: str, unit: str) -> str:
    """'11.833333', 'kW' -> '11.83 kW': rounded to what a reader can use, with the unit."""
    return f"{_figure(value, unit)} {_unit(unit)}".strip()


def price_for_people(value: str) -> str:
    """To the cent, or to four decimals where the tariff has them ('0.3' -> '0.30')."""
    number = Decimal(value).normalize()
    places = min(max(2, -int(number.as_tuple().exponent)), 4)
    return f"{number.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN):,.{places}f}"


def key_for_people(key: str) -> str:
    """'3,000 of 7,500 m2·days' -> '3,000.0 of 7,500.0': rounded as quantities of
    that unit, which the quantity column beside it names."""
    match = KEY_TEXT.match(key)
    if match is None:
        return key
    return f"{_figure(match['part'], match['unit'])} of {_figure(match['whole'], match['unit'])}"


def _table_row(line: dict[str, Any]) -> list[str]:
    unit = line.get("unit") or ""
    quantity = line.get("quantity")
    price = line.get("price")
    if line.get("key"):
        key_or_price = key_for_people(str(line["key"]))
    elif price:
        key_or_price = f"{price_for_people(str(price))} /{_unit(unit)}"
    else:
        key_or_price = ""
    cells = [
        str(line.get("pool", "")),
        str(line.get("item", "")),
        str(line.get("basis", "")),
        quantity_for_people(str(quantity), unit) if quantity not in (None, "") else "",
        key_or_price,
        str(line.get("amount", "")),
    ]
    return [_latin1(cell) for cell in cells]


def statement_pdf(
    site_title: str,
    member_name: str,
    code: str,
    period: dict[str, str],
    statement: dict[str, Any],
    run_id: int,
    held: bool,
) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.multi_cell(  # multi_cell: a long site or member name wraps inside the page
        0, 8, _latin1(f"{site_title}: electricity statement"), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_font("Helvetica", "", 10)
    for text in (
        f"Member: {member_name} ({code})",
        f"Period: {period.get('start')} to {period.get('end')} (inclusive)",
        f"Split run: {run_id}" + ("  -  HELD for review" if held else ""),
    ):
        pdf.multi_cell(0, 6, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    header = ("Pool", "Item", "Basis", "Quantity", "Price / key", "Amount")
    rows = [_table_row(line) for line in statement.get("lines", [])]
    widths = draw_table(
        pdf,
        header,
        rows,
        wraps=(True, True, True, False, True, False),
        aligns=("LEFT", "LEFT", "LEFT", "RIGHT", "LEFT", "RIGHT"),
        size_pt=9,
    )
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(sum(widths[:-1]), 7, "Total", border="T")
    pdf.cell(widths[-1], 7, str(statement.get("total", "")), border="T", align="R")
    pdf.ln(10)
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(0, 5, "Each line with its exact figures:", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin1(str(statement.get("explanation", ""))))
    return bytes(pdf.output())


def withheld(session: Session, run: AllocationRun) -> bool:
    """Whether the run's statements wait for the treasurer: a held run (ALLOCATION.md
    step 4) until its bill is closed over the hold, which takes an audited override
    (services.bills.close_bill); the statements are final then."""
    if not run.result.get("held"):
        return False
    bill = session.get(ElectricityBill, run.bill_id)
    return bill is None or bill.closed_at is None


def run_statement_pdf(
    site: Site, run: AllocationRun, member: Member, statement: dict[str, Any], held: bool
) -> bytes:
    """The PDF of `member`'s `statement` in the stored split `run`; `held`: still
    held for review (withheld)."""
    return statement_pdf(
        site.title or site.name,
        member.name,
        member.code,
        run.result.get("period", {}),
        statement,
        run.id,
        held,
    )


class OwnStatement(NamedTuple):
    run: AllocationRun
    member: Member
    body: dict[str, Any]  # the member's part of run.result (member_statement)
    held: bool  # still held for review (withheld)


def statement_of(session: Session, user: User, run_id: int, member_id: int) -> OwnStatement:
    """A member's statement in a stored split, for that member or a bookkeeper."""
    if user.role not in _BOOKKEEPERS and user.member_id != member_id:
        raise Forbidden("members see only their own statement")
    run = get(session, AllocationRun, run_id, "split")
    held = withheld(session, run)
    if held and user.role not in _BOOKKEEPERS:
        # ALLOCATION.md step 4: beyond the tolerance the statements wait for the treasurer.
        raise Conflict(f"split {run_id} is held for review")
    member = get(session, Member, member_id, "member")
    statement = member_statement(run.result, member.code)
    if statement is None:
        raise NotFound(f"member {member.code} has no share in split {run_id}")
    return OwnStatement(run, member, statement, held)


def statement_view(session: Session, user: User, run_id: int, member_id: int) -> dict[str, Any]:
    run, member, statement, held = statement_of(session, user, run_id, member_id)
    return {
        "split_id": run.id,
        "bill_id": run.bill_id,
        "member": {"id": member.id, "code": member.code, "name": member.name},
        "period": run.result.get("period"),
        "held": held,
        **statement,
    }


class Pdf(NamedTuple):
    filename: str
    content: bytes


def statement_pdf_of(session: Session, user: User, site: Site, run_id: int, member_id: int) -> Pdf:
    run, member, statement, held = statement_of(session, user, run_id, member_id)
    return Pdf(
        f"statement-{run.id}-{member.code}.pdf",
        run_statement_pdf(site, run, member, statement, held),
    )


def my_statements(session: Session, user: User) -> list[dict[str, Any]]:
    """The newest split of each bill, with this member's statement; held splits are
    not shown until the treasurer runs a split that is not held, or closes the
    bill over the hold."""
    if user.member_id is None:
        return []
    member = get(session, Member, user.member_id, "member")
    out = []
    for bill in session.scalars(
        select(ElectricityBill).order_by(ElectricityBill.period_start.desc())
    ):
        run = latest_run(session, bill.id)
        if run is None or withheld(session, run):
            continue  # a held split waits for the treasurer (ALLOCATION.md step 4)
        statement = member_statement(run.result, member.code)
        if statement is None:
            continue
        out.append(
            {
                "split_id": run.id,
                "bill_id": bill.id,
                "period": run.result.get("period"),
                "closed": bill.closed_at is not None,
                "held": False,
                "member_id": member.id,
                **statement,
            }
        )
    return out
