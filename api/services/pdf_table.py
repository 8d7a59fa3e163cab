"""A table on an fpdf2 page in which every cell fits its column: the widths are
measured from the text itself (`get_string_width`), text columns wrap at spaces,
and the font shrinks only when even the longest words cannot stand side by side
(below `MIN_FONT_PT`, fpdf2 breaks such a word inside its cell instead)."""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF
from fpdf.fonts import FontFace

PAD_MM = 2.0  # left and right inside each cell: 4 mm between neighbouring texts
SLACK_MM = 0.3  # rounding in fpdf2's own line breaking
MIN_FONT_PT = 6.0
BROKEN_MIN_MM = 15.0  # the least a column whose words are broken keeps


def _width(pdf: FPDF, text: str, bold: bool) -> float:
    pdf.set_font(style="B" if bold else "")
    return pdf.get_string_width(text) + 2 * PAD_MM + SLACK_MM


def column_widths(
    pdf: FPDF,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    wraps: Sequence[bool],
    available: float,
) -> tuple[list[float], bool]:
    """Widths (mm) that fill `available`: whole texts where they fit, else the
    wrapping columns narrowed towards their longest word; and whether every
    word fits whole (if not, the wrapping columns share the room by longest word)."""
    natural, least = [], []
    for col, wrap in enumerate(wraps):
        cells = [(header[col], True), *((row[col], False) for row in rows)]
        natural.append(max(_width(pdf, text, bold) for text, bold in cells))
        least.append(
            max(
                _width(pdf, word, bold)
                for text, bold in cells
                for word in (text.split() if wrap else [text]) or [""]
            )
        )
    pdf.set_font(style="")
    fixed = sum(w for w, wrap in zip(natural, wraps, strict=True) if not wrap)
    flexible = [i for i, wrap in enumerate(wraps) if wrap]
    widths = list(natural)
    if fixed + sum(least[i] for i in flexible) > available:
        return _break_widest_words(widths, least, flexible, available), False
    if sum(natural) <= available:  # everything fits whole: the text columns take the rest
        spare, share = available - sum(natural), sum(natural[i] for i in flexible)
        for i in flexible:
            widths[i] += spare * natural[i] / share
        return widths, True
    budget = available - fixed - sum(least[i] for i in flexible)
    give = sum(natural[i] - least[i] for i in flexible)
    for i in flexible:
        widths[i] = least[i] + budget * (natural[i] - least[i]) / give
    return widths, True


def _break_widest_words(
    widths: list[float], least: list[float], flexible: list[int], available: float
) -> list[float]:
    """The columns with the widest words give way, one by one, until the others'
    words fit whole: fpdf2 breaks a word inside its cell when it is too wide."""
    for i in flexible:
        widths[i] = least[i]
    for i in sorted(flexible, key=lambda k: least[k], reverse=True):
        widths[i] = 0.0
        room = available - sum(widths)
        if room >= BROKEN_MIN_MM:
            widths[i] = room
            return widths
        widths[i] = BROKEN_MIN_MM
    return [w * available / sum(widths) for w in widths]


def draw_table(
    pdf: FPDF,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    wraps: Sequence[bool],
    aligns: Sequence[str],
    size_pt: float,
) -> list[float]:
    """Draws the table at the current position, full width; returns the column widths."""
    while True:
        pdf.set_font(size=size_pt)
        widths, whole_words = column_widths(pdf, header, rows, wraps, pdf.epw)
        if whole_words or size_pt <= MIN_FONT_PT:
            break
        size_pt -= 0.5
    with pdf.table(
        col_widths=widths,
        width=pdf.epw,
        text_align=tuple(aligns),
        padding=(0.8, PAD_MM),
        borders_layout="HORIZONTAL_LINES",
        v_align="TOP",
        line_height=pdf.font_size * 1.25,
        headings_style=FontFace(emphasis="BOLD"),
    ) as table:
        for row in [header, *rows]:
            table.row(list(row))
    return widths
