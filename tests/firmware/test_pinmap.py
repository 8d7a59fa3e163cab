"""hardware/pinmap.json and the firmware's default configs name the same pins,
and those pins are usable on an ESP32 for what they do."""

from __future__ import annotations

import json
from pathlib import Path

from firmware import config
from tests.firmware.mp.signed import DOWNLINK_KEY

PINMAP = json.loads((Path(__file__).resolve().parents[2] / "hardware" / "pinmap.json").read_text())
MACHINE = {"site": "s", "device": "d", "role": "machine", "mqtt": {"host": "10.0.0.2"},
           "badge_key": "00112233445566778899aabbccddeeff", "downlink_key": DOWNLINK_KEY}


def test_every_role_in_the_pinmap() -> None:
    assert set(PINMAP["roles"]) == set(config.ROLE_DEFAULTS)


def test_default_pins_match_the_pinmap() -> None:
    for role, pins in PINMAP["roles"].items():
        wired = {name: entry["gpio"] for name, entry in pins.items()}
        assert config.ROLE_DEFAULTS[role]["pins"] == wired, role


def test_the_pin_rules_are_the_pinmaps() -> None:
    rules = PINMAP["esp32"]
    assert list(config.GPIOS) == rules["gpios"]
    assert list(config.FLASH_PINS) == rules["flash"]["pins"]
    assert list(config.UART0_PINS) == rules["uart0"]["pins"]
    assert list(config.STRAPPING_PINS) == rules["strapping"]["pins"]
    assert list(config.INPUT_ONLY) == rules["input_only"]["pins"]
    assert list(config.ADC1_PINS) == rules["adc1"]["pins"]
    assert list(config.OUTPUT_PINS) == rules["driven"]["signals"]


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


def test_strapping_console_and_missing_pins_are_refused() -> None:
    cases = {
        "relay": (0, "GPIO0 is a strapping pin"),
        "extraction": (2, "GPIO2 is a strapping pin"),
        "rc522_cs": (5, "GPIO5 is a strapping pin"),
        "spi_sck": (12, "GPIO12 is a strapping pin"),
        "onewire": (15, "GPIO15 is a strapping pin"),
        "uart_tx": (1, "GPIO1 is the serial console"),
        "running": (3, "GPIO3 is the serial console"),
        "i2c_sda": (20, "20 is not an ESP32 GPIO"),
        "i2c_scl": (24, "24 is not an ESP32 GPIO"),
        "rc522_rst": (40, "40 is not an ESP32 GPIO"),
        "spi_mosi": (39, "GPIO39 is input only"),
    }
    for name, (pin, expected) in cases.items():
        errors = config.check_pins({name: pin})
        assert len(errors) == 1 and expected in errors[0], (name, errors)


def test_a_bad_pin_in_a_config_is_a_named_error() -> None:
    _, errors = config.parse(json.dumps({**MACHINE, "pins": {"relay": 12}}))
    assert errors == ["pin relay: GPIO12 is a strapping pin (boot mode)"]


def test_sensor_names_follow_the_protocols_rule() -> None:
    heating = {**MACHINE, "role": "heating"}
    good = {"t_flow": "28aaaaaaaaaaaaaa", "t_zone-1": "28bbbbbbbbbbbbbb"}
    assert config.parse(json.dumps({**heating, "sensors": good}))[1] == []
    bad = {
        "t_Flow": "reading 't_Flow': only a-z 0-9 _ -",  # upper case: the gateway would refuse it
        "t_" + "x" * 31: "1-32 characters",
        "flow": "start with t_",
        "t_ok": "lower-case hex",
    }
    for name, expected in bad.items():
        rom = "28AAAAAAAAAAAAAA" if name == "t_ok" else "28aaaaaaaaaaaaaa"
        _, errors = config.parse(json.dumps({**heating, "sensors": {name: rom}}))
        assert len(errors) == 1 and expected in errors[0], (name, errors)
    many = {f"t_{k}": "28aaaaaaaaaaaaaa" for k in range(40)}
    _, errors = config.parse(json.dumps({**heating, "sensors": many}))
    assert errors and "more than 32" in errors[0], errors
