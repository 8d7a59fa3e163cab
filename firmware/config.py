# The node's configuration: /config.json on the board, merged over the
# defaults of its role and validated. A bad config does not raise at boot (a
# boot loop cannot be reported); `load` returns the errors and main.py runs the
# safe mode instead: outputs off, the error published if the network settings
# allow it, a `config` command accepted to fix it.
import json

from protocol import downlink, wire

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

from firmware.version import FW_VERSION  # noqa: F401 - re-exported

CONFIG_PATH = "/config.json"

COMMON = {
    "telemetry_s": 60,
    "status_s": 300,
    "sample_ms": 1000,
    "persist_wh": 100,
    "persist_s": 600,
    "outbox_records": 2048,
    "ntp_host": "",  # "": the MQTT broker's host, the site server (drivers/ntp.py)
    "ntp_every_s": 3600,
    "watchdog_ms": 30000,
    "master": [],
    "badge_key": "",
    # Every acl and cmd must carry a MAC under this key (64 hex digits, from
    # the provisioning); without it the node runs the safe mode.
    "downlink_key": "",
}

# Pin numbers match hardware/pinmap.json (a test checks it).
ROLE_DEFAULTS = {
    "machine": {
        "reader": "mfrc522",
        "power": "clamp",
        "card_mode": "tap",
        "timeout_s": 14400,
        "idle_w": 20,
        "idle_s": 900,
        "runon_s": 120,
        # A card is read at the next poll: 50 ms + the poll itself keeps
        # card-on-reader to interlock p99 under 100 ms (100 ms did not).
        "poll_ms": 50,
        "clamp": {"amps_per_volt": 30.0, "volts": 230.0, "pf": 1.0, "mains_hz": 50,
                  "cycles": 5, "samples_per_cycle": 40, "noise_a": 0.15, "min_a": 0.1},
        "pzem_address": 1,
        "relay_active_low": True,
        "input_active_low": True,
        "input_pull": "external",
        "pins": {"spi_sck": 18, "spi_mosi": 23, "spi_miso": 19, "rc522_cs": 13, "rc522_rst": 4,
                 "i2c_sda": 21, "i2c_scl": 22, "relay": 26, "extraction": 27, "running": 34,
                 "adc_current": 36, "adc_voltage": -1, "uart_tx": 17, "uart_rx": 16},
    },
    "heating": {
        "temp_every_s": 10,
        "sensors": {},
        "input_active_low": True,
        "input_pull": "external",
        "pins": {"onewire": 4, "call": 35},
    },
    "meter": {
        "source": "s0",
        "pulses_per_kwh": 1000,
        "pzem_address": 1,
        "pins": {"s0": 32, "uart_tx": 17, "uart_rx": 16},
    },
}

# What each ESP32 GPIO may carry (hardware/pinmap.json "esp32" holds the same
# sets; tests/firmware/test_pinmap.py keeps them equal).
# Concatenated, not unpacked: MicroPython has no * in a tuple display.
GPIOS = tuple(range(20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40))  # noqa: RUF005
FLASH_PINS = (6, 7, 8, 9, 10, 11)  # the SPI flash chip
UART0_PINS = (1, 3)  # the USB serial console: REPL, flashing, SAFE MODE messages
# Sampled at reset: a pull-up, a pull-down or a driven level on them can stop
# the boot (0: download mode), or set the flash to 1.8 V (12). Every circuit
# of the nodes puts one of those on its pin, so none may use them.
STRAPPING_PINS = (0, 2, 5, 12, 15)
INPUT_ONLY = (34, 35, 36, 37, 38, 39)  # no output driver, no internal pulls
ADC1_PINS = (32, 33, 34, 35, 36, 37, 38, 39)  # ADC2 is unusable while Wi-Fi runs
# Signals the node drives (I2C and 1-Wire pull their line low).
OUTPUT_PINS = ("relay", "extraction", "spi_sck", "spi_mosi", "rc522_cs", "rc522_rst", "uart_tx",
               "i2c_sda", "i2c_scl", "onewire")


def _merge(base: dict, over: dict) -> dict:
    out = {}
    for key in base:
        out[key] = base[key]
    for key in over:
        if isinstance(out.get(key), dict) and isinstance(over[key], dict):
            out[key] = _merge(out[key], over[key])
        else:
            out[key] = over[key]
    return out


def merged(raw: dict) -> dict:
    role: Any = raw.get("role")
    cfg = _merge(COMMON, ROLE_DEFAULTS.get(role, {}))
    return _merge(cfg, raw)


def _positive(cfg: dict, key: str, errors: list) -> None:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        errors.append("%s must be a positive number" % key)


def validate(cfg: dict) -> list:
    """-> list of errors, each naming the field; empty when usable."""
    errors = []
    role = cfg.get("role")
    if role not in wire.ROLES:
        errors.append("role must be one of %s" % ", ".join(wire.ROLES))
    for field in ("site", "device"):
        try:
            name: Any = cfg.get(field)
            wire.check_name(field, name)
        except wire.ProtocolError as exc:
            errors.append(exc.detail)
    mqtt = cfg.get("mqtt")
    if not isinstance(mqtt, dict) or not isinstance(mqtt.get("host"), str) or not mqtt.get("host"):
        errors.append("mqtt.host is required")
    else:
        errors.extend(check_tls(mqtt))
    wifi = cfg.get("wifi")
    if wifi is not None and (not isinstance(wifi, dict) or not isinstance(wifi.get("ssid"), str)):
        errors.append("wifi.ssid must be a string")
    for key in ("telemetry_s", "status_s", "sample_ms", "persist_wh", "persist_s",
                "outbox_records"):
        _positive(cfg, key, errors)
    if isinstance(cfg.get("persist_s"), int) and cfg["persist_s"] > 600:
        errors.append("persist_s above 600 breaks the documented loss bound")
    for h in cfg.get("master") or []:
        try:
            wire._hexes([h], "master")
        except wire.ProtocolError as exc:
            errors.append(exc.detail)
    try:
        downlink.key_from_hex(cfg.get("downlink_key"))
    except ValueError as exc:
        errors.append(str(exc) + " (from the node's provisioning): no ACL or command "
                      "could be trusted without it")
    badge_key: Any = cfg.get("badge_key")
    if role == "machine":
        from protocol import badge  # the machine role imports it anyway; other roles never

        problem = badge.key_error(badge_key)
        if problem:
            errors.append("badge_key: " + problem)
        if cfg.get("reader") not in ("mfrc522", "pn532"):
            errors.append("reader must be mfrc522 or pn532")
        if cfg.get("power") not in ("clamp", "pzem"):
            errors.append("power must be clamp or pzem")
        if cfg.get("card_mode") not in ("tap", "present"):
            errors.append("card_mode must be tap or present")
    if role == "heating":
        errors.extend(check_sensors(cfg.get("sensors")))
    if role == "meter":
        if cfg.get("source") not in ("s0", "pzem"):
            errors.append("source must be s0 or pzem")
        _positive(cfg, "pulses_per_kwh", errors)
    errors.extend(check_pins(cfg.get("pins") or {}))
    errors.extend(check_wiring(cfg))
    return errors


PEM_CERT = "-----BEGIN CERTIFICATE-----"


def check_tls(mqtt: dict) -> list:
    """mqtt.tls (default false): with it, mqtt.ca is the site CA's certificate
    (PEM), the only one the node trusts, and mqtt.server_name (default: the
    host) the name the broker's certificate must hold."""
    tls = mqtt.get("tls", False)
    if not isinstance(tls, bool):
        return ["mqtt.tls must be true or false"]
    errors = []
    if tls:
        ca: Any = mqtt.get("ca")
        if not isinstance(ca, str) or not ca.strip().startswith(PEM_CERT):
            errors.append("mqtt.ca must be the site CA's certificate (PEM) when mqtt.tls is on")
        name: Any = mqtt.get("server_name", "")
        if not isinstance(name, str):
            errors.append("mqtt.server_name must be a string")
    return errors


def check_pins(pins: dict) -> list:
    errors = []
    used: dict = {}
    for name in pins:
        pin = pins[name]
        if pin == -1:
            continue  # not fitted
        if isinstance(pin, bool) or not isinstance(pin, int) or pin not in GPIOS:
            errors.append("pin %s: %r is not an ESP32 GPIO" % (name, pin))
            continue
        if pin in FLASH_PINS:
            errors.append("pin %s: GPIO%d belongs to the flash chip" % (name, pin))
        elif pin in UART0_PINS:
            errors.append("pin %s: GPIO%d is the serial console (UART0)" % (name, pin))
        elif pin in STRAPPING_PINS:
            errors.append("pin %s: GPIO%d is a strapping pin (boot mode)" % (name, pin))
        if name in OUTPUT_PINS and pin in INPUT_ONLY:
            errors.append("pin %s: GPIO%d is input only" % (name, pin))
        if name.startswith("adc_") and pin not in ADC1_PINS:
            errors.append("pin %s: GPIO%d is not on ADC1 (ADC2 stops with Wi-Fi)" % (name, pin))
        if pin in used:
            errors.append("pin %s: GPIO%d already used by %s" % (name, pin, used[pin]))
        used[pin] = name
    return errors


def check_sensors(sensors) -> list:
    """Heating sensors: reading names by the protocol's own rule (a name the
    gateway would refuse must not pass here and then fail every telemetry
    message), t_ first, and 1-Wire ROM ids of 16 hex digits."""
    if not isinstance(sensors, dict):
        return ["sensors must map reading names to 1-Wire ROM ids"]
    errors = []
    readings: dict = {"call": 0}
    for name in sensors:
        if not isinstance(name, str) or not name.startswith("t_"):
            errors.append("sensor %r: reading names start with t_" % (name,))
            continue
        readings[name] = 0.0
        try:
            wire._hexes([sensors[name]], "sensor " + name)
        except wire.ProtocolError as exc:
            errors.append(exc.detail + " (a 1-Wire ROM id)")
    if not errors:
        try:
            wire.encode("telemetry", wire.telemetry(0, wire.TS_MIN_MS, {}, readings))
        except wire.ProtocolError as exc:
            errors.append("sensors: " + exc.detail)
    return errors


# --- how the modules are wired (issue 12, drivers) ------------------------------
# Relay modules trigger on a low or a high IN (relay_active_low, default: the
# common opto-isolated low-level kind); the optocoupler inputs read low while
# their signal is on (input_active_low) and are held high by the board's 10 kOhm
# pull-up (input_pull "external") or by the ESP32's own ("internal"), which
# GPIO34-39 do not have.
INPUT_PINS = ("running", "call")


def check_wiring(cfg: dict) -> list:
    errors = []
    for key in ("relay_active_low", "input_active_low"):
        if key in cfg and not isinstance(cfg[key], bool):
            errors.append("%s must be true or false" % key)
    pull = cfg.get("input_pull", "external")
    if pull not in ("external", "internal"):
        errors.append("input_pull must be external or internal")
    elif pull == "internal":
        pins = cfg.get("pins") or {}
        for name in INPUT_PINS:
            if pins.get(name) in INPUT_ONLY:
                errors.append("pin %s: GPIO%d has no internal pull-up (GPIO34-39): fit the "
                              "10 kOhm pull-up (hardware/wiring.md) and set input_pull external"
                              % (name, pins[name]))
    return errors


def parse(text) -> tuple:
    """JSON text -> (config, errors)."""
    try:
        raw = json.loads(text)
    except ValueError:
        return {}, ["config is not valid JSON"]
    if not isinstance(raw, dict):
        return {}, ["config must be a JSON object"]
    cfg = merged(raw)
    return cfg, validate(cfg)


def load(path: str = CONFIG_PATH) -> tuple:
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}, ["no config file at " + path]
    return parse(text)
