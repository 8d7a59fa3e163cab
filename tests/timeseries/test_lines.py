"""The line-protocol encoder: escaping, and one encoding of each value type
whichever form (single or bulk) writes it."""

from __future__ import annotations

from timeseries.lines import (
    bool_field,
    float_field,
    float_pairs,
    int_field,
    int_pairs,
    joined,
    line,
    string_field,
    tag_suffix,
)


def test_string_fields_escape_quotes_backslashes_newlines_and_surrogates() -> None:
    assert string_field('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert string_field("one\ntwo") == '"one\\ntwo"'
    assert string_field("\ud800x") == '"?x"'


def test_bulk_pairs_encode_as_the_single_values_do() -> None:
    ints, floats = {"wh": 12, "neg": -3}, {"w": 7, "a": 0.1 + 0.2}
    assert int_pairs(ints) == [k + "=" + int_field(v) for k, v in ints.items()]
    assert float_pairs(floats) == [k + "=" + float_field(v) for k, v in floats.items()]
    assert float_pairs(floats) == ["w=7.0", "a=0.30000000000000004"]


def test_a_line_from_fields_equals_the_line_from_pairs() -> None:
    tags = tag_suffix(("site", "lab"), ("device", "node1"))
    fields = {"wh": int_field(12), "ok": bool_field(False), "fw": string_field("1.2")}
    expected = 'event,site=lab,device=node1 wh=12i,ok=false,fw="1.2" 1764000000000'
    assert line("event", tags, fields, 1764000000000) == expected
    assert joined("event", tags, ["wh=12i", "ok=false", 'fw="1.2"'], 1764000000000) == expected
