"""The statement PDF as a person reads it, checked with poppler's pdftotext:
long labels (band names, "measured+estimated") stay inside their columns,
quantities are rounded for people, and the amounts still add up to the split
to the cent."""

from __future__ import annotations

import html
import re
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from api.allocation import allocate, parse_scenario, split_to_dict
from api.services.statements import statement_pdf
from tests.api.factories import worked_example

PEAK = "peak-weekdays-07:00-20:00/winter-tariff"  # band names are ids: no spaces, up to 64
OFFPEAK = "offpeak-nights+weekends+public-holidays"
MM = 72 / 25.4
COLUMNS = ("Pool", "Item", "Basis", "Quantity", "Price", "Amount")
RIGHT_ALIGNED = {"Quantity", "Amount"}
# The rounded form of each unit's quantities: kWh to 1 decimal, kW to 2, area x days to 1.
FORMS = {
    "kWh": r"\d{1,3}(,\d{3})*\.\d kWh",
    "kW": r"\d{1,3}(,\d{3})*\.\d\d kW",
    "m2·days": r"\d{1,3}(,\d{3})*\.\d m²·days",
    "m2·degree-days": r"\d{1,3}(,\d{3})*\.\d m²·degree-days",
}


@dataclass(frozen=True)
class Word:
    x0: float
    y0: float
    x1: float
    text: str


def _scenario() -> dict[str, Any]:
    data = worked_example()
    data["bill"]["bands"] = [{"name": PEAK, "kwh": "2000", "cost": "600.00"},
                             {"name": OFFPEAK, "kwh": "1000", "cost": "200.00"}]
    data["metered_kwh"] = {"A": {PEAK: "600.123456", OFFPEAK: "100.987654"},
                           "B": {PEAK: "500.5", OFFPEAK: "300.25"},
                           "C": {PEAK: "200.333333", OFFPEAK: "0"}}
    data["estimated_kwh"] = {"A": {PEAK: "37.654321"}}  # A's peak: measured+estimated
    data["heating"] = {"cost": "250.00"}  # a key in m2·degree-days
    return data


def _words(pdf: Path) -> list[Word]:
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    assert out.count("<page ") == 1, "the statement should fit one page"
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>'
    return [Word(float(a), float(b), float(c), html.unescape(t))
            for a, b, c, t in re.findall(pattern, out)]


def _phrases(words: list[Word]) -> list[list[Word]]:
    """Text lines top to bottom, each as its phrases: words closer than a cell
    gap joined, so one cell's line is one phrase (and two cells that touch, one)."""
    lines: dict[float, list[Word]] = {}
    for word in words:
        lines.setdefault(round(word.y0, 1), []).append(word)
    out = []
    for y, line in sorted(lines.items()):
        line.sort(key=lambda w: w.x0)
        phrases, current = [], line[0]
        for word in line[1:]:
            if word.x0 - current.x1 < 1.5 * MM:  # a space, not the 4 mm between cells
                current = Word(current.x0, y, word.x1, f"{current.text} {word.text}")
            else:
                phrases.append(current)
                current = word
        out.append([*phrases, current])
    return out


def _table(words: list[Word]) -> tuple[dict[str, Word], list[list[tuple[str, Word]]], Word]:
    """The header's words by column, the rows' (column, phrase) lists, the total."""
    pool = next(w for w in words if w.text == "Pool")
    header = {w.text: w for w in words if abs(w.y0 - pool.y0) < 0.5 and w.text in COLUMNS}
    assert list(header) == list(COLUMNS)
    total = next(w for w in words if w.text == "Total" and w.y0 > pool.y0)
    # The body begins with the first amount (a header cell may wrap onto a second line).
    first = min(w.y0 for w in words
                if w.y0 > pool.y0 + 1 and abs(w.x1 - header["Amount"].x1) < 1)
    body = [w for w in words if first - 0.5 < w.y0 < total.y0 - 1]
    rows: list[list[tuple[str, Word]]] = []
    for line in _phrases(body):
        cells = []
        for phrase in line:
            anchored = [c for c, h in header.items() if abs(
                (phrase.x1 - h.x1) if c in RIGHT_ALIGNED else (phrase.x0 - h.x0)) < 1]
            assert len(anchored) == 1, (f"{phrase.text!r} at x {phrase.x0:.1f}-{phrase.x1:.1f} "
                                        "is in no column (or runs over into another)")
            cells.append((anchored[0], phrase))
        if any(column == "Amount" for column, _ in cells):  # a row's first line has its amount
            rows.append([])
        assert rows, f"{line} above the first row"
        rows[-1] += cells
    [last] = _phrases([w for w in words if abs(w.y0 - total.y0) < 0.5])
    return header, rows, next(p for p in last if p.text != "Total")


def _assert_columns_clear(header: dict[str, Word], rows: list[list[tuple[str, Word]]]) -> None:
    """Each column's text, the header's included, stands clear of the next
    column's over the whole table (3 mm at least), and of the page's margin."""
    extents: dict[str, list[Word]] = {c: [header[c]] for c in COLUMNS}
    for row in rows:
        for column, phrase in row:
            extents[column].append(phrase)
    for left, right in pairwise(COLUMNS):
        end = max(p.x1 for p in extents[left])
        start = min(p.x0 for p in extents[right])
        assert end + 3 * MM <= start, (left, right, end, start)
    assert max(p.x1 for ps in extents.values() for p in ps) <= 595.28 - 10 * MM


def _render(tmp_path: Path, name: str, result: dict[str, Any], statement: dict[str, Any]) -> Path:
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(statement_pdf("Makerspace Nord, Halle 3", f"Member {name}", name,
                                  result["period"], statement, 7, False))
    return pdf


def test_statement_columns_fit_and_quantities_are_rounded(tmp_path: Path) -> None:
    split = allocate(parse_scenario(_scenario()))
    result = split_to_dict(split)
    statements = {**result["members"], "vacancy": result["vacancy_statement"]}
    bases = {line["basis"] for st in statements.values() for line in st["lines"]}
    assert "measured+estimated" in bases
    for name, statement in statements.items():
        pdf = _render(tmp_path, name, result, statement)
        header, rows, total = _table(_words(pdf))

        _assert_columns_clear(header, rows)

        # Row by row: nothing lost (no truncation), quantities rounded for people.
        assert len(rows) == len(statement["lines"])
        for row, line in zip(rows, statement["lines"], strict=True):
            cells = {c: " ".join(p.text for col, p in row if col == c) for c in COLUMNS}
            assert cells["Item"] == line["item"] and cells["Basis"] == line["basis"]
            assert re.fullmatch(FORMS[line["unit"]], cells["Quantity"]), cells["Quantity"]
            shown = Decimal(cells["Quantity"].split(" ")[0].replace(",", ""))
            last_place = Decimal(1).scaleb(int(shown.as_tuple().exponent))
            assert abs(shown - Decimal(line["quantity"])) <= last_place / 2
            assert cells["Amount"] == line["amount"]
            price = r"\d+\.\d{2,4} /(kWh|kW)"
            key = rf"{FORMS[line['unit']].split(' ')[0]} of {FORMS[line['unit']].split(' ')[0]}"
            assert re.fullmatch(key if line["key"] else price, cells["Price"]), cells["Price"]

        # Money: to the cent, the lines add up to the total, which is the split's.
        amounts = [Decimal(p.text) for row in rows for c, p in row if c == "Amount"]
        assert sum(amounts) == Decimal(total.text) == Decimal(statement["total"])
        entry = split.vacancy if name == "vacancy" else split.members[name]
        assert Decimal(total.text) * 100 == entry.total_cents

        # pdftotext -layout, as a reader would copy it: no long decimals in the
        # table, the long labels whole.
        layout = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                                capture_output=True, text=True).stdout
        table = layout[layout.index("Pool"):layout.index("Total")]
        assert not re.search(r"\d\.\d{3,}", table), table
        for line in statement["lines"]:
            assert line["basis"] in table and line["item"] in table
    totals = sum(Decimal(st["total"]) for st in statements.values())
    assert totals == Decimal(result["total"]) == Decimal(split.total_cents) / 100


@pytest.mark.parametrize("width", [20, 64])
def test_the_widest_band_name_stays_in_its_column(tmp_path: Path, width: int) -> None:
    """Band names of the widest letter, up to the longest id (64): the font
    shrinks, and a word too wide even then is broken inside its own cell; the
    columns still keep clear of each other and no letter is lost."""
    name = ("W" * width)[:64]
    data = _scenario()
    data["bill"]["bands"][0]["name"] = name
    data["metered_kwh"]["A"][name] = data["metered_kwh"]["A"].pop(PEAK)
    data["metered_kwh"]["B"][name] = data["metered_kwh"]["B"].pop(PEAK)
    data["metered_kwh"]["C"][name] = data["metered_kwh"]["C"].pop(PEAK)
    data["estimated_kwh"] = {"A": {name: "37.654321"}}
    result = split_to_dict(allocate(parse_scenario(data)))
    statement = result["members"]["A"]
    header, rows, _ = _table(_words(_render(tmp_path, "A", result, statement)))
    items = [" ".join(p.text for c, p in row if c == "Item") for row in rows]
    assert items[0].replace(" ", "") == name
    _assert_columns_clear(header, rows)
