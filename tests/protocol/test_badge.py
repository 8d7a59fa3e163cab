"""The badge key's one reading (protocol.badge.parse_key) and the hash built on
it; the same module runs on the nodes (tests/firmware/test_logic.py runs the
key checks under MicroPython too)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from protocol.badge import KEY_MIN_HEX_DIGITS, badge_hash, key_error, parse_key, uid_from_hex

KEY = "5f1c2a7b9e3d4c6a8b0f1e2d3c4b5a69"


def test_the_key_is_the_bytes_its_hex_digits_spell() -> None:
    assert parse_key(KEY) == bytes.fromhex(KEY)
    assert parse_key(KEY.upper()) == bytes.fromhex(KEY)
    uid = uid_from_hex("04:A2:1B:3C")
    expected = hmac.new(bytes.fromhex(KEY), uid, hashlib.sha256).hexdigest()[:16]
    assert badge_hash(parse_key(KEY), uid) == expected
    # The text itself as a key (what the api once did) gives another hash.
    assert badge_hash(KEY.encode(), uid) != expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("test-badge-key", "at least 32 hex digits"),
        ("change-me", "at least 32 hex digits"),
        ("", "at least 32 hex digits"),
        (KEY[:30], "has 30 characters"),
        ("x" * 32, "hex digits only"),
        (KEY + "0", "even number"),
        (KEY[:-1] + " ", "hex digits only"),
        (None, "text of hex digits"),
    ],
)
def test_a_bad_key_is_refused_with_its_reason(text: object, problem: str) -> None:
    assert problem in key_error(text)
    with pytest.raises(ValueError, match=problem):
        parse_key(text)


def test_the_minimum_is_sixteen_bytes() -> None:
    assert KEY_MIN_HEX_DIGITS == 32
    assert key_error("ab" * 16) == ""
    assert key_error("ab" * 15 + "a") != ""
