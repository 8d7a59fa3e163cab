"""hardware/pinmap.json and the firmware's default configs name the same pins,
and those pins are usable on an ESP32 for what they do."""

from __future__ import annotations

import json
from pathlib import Path

from firmware import config

PINMAP = json.loads((Path(__file__).resolve().parents[2] / "hardware" / "pinmap.json").read_text())


def test_every_role_in_the_pinmap() -> None:
    assert set(PINMAP["roles"]) == set(config.ROLE_DEFAULTS)


def test_default_pins_match_the_pinmap() -> None:
    for role, pins in PINMAP["roles"].items():
        wired = {name: entry["gpio"] for name, entry in pins.items()}
        assert config.ROLE_DEFAULTS[role]["pins"] == wired, role


def test_pinmap_pins_are_valid_for_their_use() -> None:
    for role, pins in PINMAP["roles"].items():
        wired = {name: entry["gpio"] for name, entry in pins.items()}
        assert config.check_pins(wired) == [], role


def test_pin_check_catches_wiring_mistakes() -> None:
    errors = config.check_pins({"relay": 34, "adc_current": 25, "running": 7, "s0": 32, "x": 32})
    assert any("GPIO34 is input only" in e for e in errors)
    assert any("not on ADC1" in e for e in errors)
    assert any("flash chip" in e for e in errors)
    assert any("already used" in e for e in errors)
