"""A member's statement from a stored split: as a dict and as a PDF page."""

from __future__ import annotations

from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from api.models import AllocationRun, Member, Site


def member_statement(result: dict[str, Any], code: str) -> dict[str, Any] | None:
    if code == "vacancy":
        statement: dict[str, Any] | None = result.get("vacancy_statement")
        return statement
    statement = result.get("members", {}).get(code)
    return statement


def _latin1(text: str) -> str:
    # The PDF core fonts cover Latin-1; anything else becomes a '?' rather than an error.
    return text.replace("·", "-").encode("latin-1", "replace").decode("latin-1")


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
    pdf.cell(
        0, 8, _latin1(f"{site_title}: electricity statement"), new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_font("Helvetica", "", 10)
    for text in (
        f"Member: {member_name} ({code})",
        f"Period: {period.get('start')} to {period.get('end')} (inclusive)",
        f"Split run: {run_id}" + ("  -  HELD for review" if held else ""),
    ):
        pdf.cell(0, 6, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    widths = (22, 40, 28, 30, 40, 20)
    pdf.set_font("Helvetica", "B", 9)
    for width, head in zip(
        widths, ("Pool", "Item", "Basis", "Quantity", "Key / price", "Amount"), strict=True
    ):
        pdf.cell(width, 6, head, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for line in statement.get("lines", []):
        quantity = f"{line.get('quantity', '')} {line.get('unit', '')}".strip()
        key_or_price = line.get("key") or (
            f"{line['price']} / {line.get('unit', '')}" if line.get("price") else ""
        )
        cells = (
            line.get("pool", ""),
            line.get("item", ""),
            line.get("basis", ""),
            quantity,
            key_or_price,
            line.get("amount", ""),
        )
        for width, text in zip(widths, cells, strict=True):
            pdf.cell(width, 6, _latin1(str(text))[:40], align="R" if text is cells[-1] else "L")
        pdf.ln()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(sum(widths[:-1]), 7, "Total", border="T")
    pdf.cell(widths[-1], 7, str(statement.get("total", "")), border="T", align="R")
    pdf.ln(10)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin1(str(statement.get("explanation", ""))))
    return bytes(pdf.output())


def run_statement_pdf(
    site: Site, run: AllocationRun, member: Member, statement: dict[str, Any]
) -> bytes:
    """The PDF of `member`'s `statement` in the stored split `run`."""
    return statement_pdf(
        site.title or site.name,
        member.name,
        member.code,
        run.result.get("period", {}),
        statement,
        run.id,
        bool(run.result.get("held")),
    )
