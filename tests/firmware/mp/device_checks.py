# The firmware's drivers against the device models (simulator/devices), run
# unchanged under MicroPython (tools/mpy/run.mjs, the models mounted as
# simulator/devices) and CPython (tests/firmware/test_devices.py). One check
# per fault of issue 12, each on the path a node really takes: the board
# built from a config by drivers/board.py, the drivers on the models' buses.
# `run(tmp)` runs them all and returns their names.
import json

from firmware import config
from firmware.app import Node
from firmware.drivers.board import Board
from firmware.logic.modbus import PZEM_REGISTERS
from firmware.roles.power import ClampPower
from firmware.store import fsutil
from protocol.badge import badge_hash
from simulator.devices import adc, gpio, iso14443, mfrc522, onewire, pn532, port, pzem

from .checks import _clean
from .signed import DOWNLINK_KEY

KEY = "00112233445566778899aabbccddeeff"
MACHINE_PINS = config.ROLE_DEFAULTS["machine"]["pins"]  # wired as hardware/pinmap.json
ONEWIRE_PIN = config.ROLE_DEFAULTS["heating"]["pins"]["onewire"]
UID4 = b"\x04\xa1\xb2\xc3"
UID7 = b"\x04\x5a\x6b\x7c\x8d\x9e\x80"
FLOW, RETURN, ZONE = "2801020304050601", "2808080808080808", "2811223344556677"


def _rom(text):
    """A DS18B20 ROM id with a valid CRC from its first 7 bytes."""
    body = bytes.fromhex(text[:14])
    return (body + bytes((onewire.crc8(body),))).hex()


FLOW, RETURN, ZONE = _rom(FLOW), _rom(RETURN), _rom(ZONE)


class OfflineLink:
    def isconnected(self):
        return False

    def rssi(self):
        return 0


class Dog:
    def feed(self):
        pass


def parse(role, extra):
    raw = {"site": "dev", "device": "dev-" + role, "role": role, "mqtt": {"host": "10.0.0.2"},
           "downlink_key": DOWNLINK_KEY}
    if role == "machine":
        raw["badge_key"] = KEY
    raw.update(extra)
    cfg, errors = config.parse(json.dumps(raw))
    return cfg, errors


def board(p, role, extra=None):
    cfg, errors = parse(role, extra or {})
    assert not errors, errors
    b = Board(cfg, p)
    b.start_outputs()
    b.start_devices()
    return b


def node(p, role, root, extra=None):
    return node_on(board(p, role, extra), root)


def node_on(b, root):
    b.link = OfflineLink()
    b.watchdog = Dog()
    b.storage_root = root
    b.config_path = root + "/config.json"
    fsutil.FS.makedirs(root)
    _clean(root)
    return Node(b.cfg, b)


def step(coro, times=1):
    """Resume a hand-stepped task `times` times (each resume is one await)."""
    out = None
    for _ in range(times):
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
    return out


def finish(coro, limit=1000):
    for _ in range(limit):
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
    raise AssertionError("coroutine did not finish")


def events(n, kind):
    """The events `kind` a node queued, decoded from its outbox."""
    n.write_flash()  # the flash task's step: queued records go to flash
    out = []
    box = n.outbox
    for r in range(box.tail, box.head):
        rec = box.read(r)
        if rec is not None and rec[0] == "event":
            msg = json.loads(bytes(rec[1]))
            if msg["kind"] == kind:
                out.append(msg)
    return out


# -- the models follow their datasheets ---------------------------------------


def check_models_follow_datasheets():
    # CRC_A of HLTA is 57 CD (ISO 14443-3, the frame every reader sends).
    assert iso14443.crc_a(b"\x50\x00") == b"\x57\xcd"
    # Maxim's 1-Wire CRC example (application note 27): ROM 02 1C B8 01 00 00 00 -> A2.
    assert onewire.crc8(bytes.fromhex("021cb801000000")) == 0xA2
    assert onewire.crc8(bytes.fromhex("021cb801000000a2")) == 0
    sensor = onewire.Ds18b20(FLOW, lambda: 21.5)
    pad = sensor.scratchpad(0)
    assert pad[0] | pad[1] << 8 == 0x0550 and onewire.crc8(pad) == 0  # +85 degC at power-on
    sensor.start_conversion(0)
    assert sensor.scratchpad(749999)[0] == 0x50  # t_CONV 750 ms at 12 bits
    assert sensor.scratchpad(750000)[:2] == bytes((0x58, 0x01))  # 21.5 * 16 = 0x0158
    # A 7-byte UID: cascade tag 0x88 at level 1, the rest at level 2.
    card = iso14443.Card(UID7, sak=0x00)
    assert card.atqa == b"\x44\x00" and card.level_bytes(0) == b"\x88" + UID7[:3]
    assert card.level_bytes(1) == UID7[3:]
    p = port.Port()
    chip = mfrc522.Mfrc522Model(p)
    chip.regs[mfrc522.T_MODE] = 0x80
    chip.regs[mfrc522.T_PRESCALER] = 0xA9
    chip.regs[mfrc522.T_RELOAD_L] = 0xE8
    chip.regs[mfrc522.T_RELOAD_H] = 0x03
    assert 24900 < chip._timer_us() < 25100  # the common 25 ms setting: 1001 ticks of 25 us
    assert pn532.response_frame(0x02, pn532.FIRMWARE) == \
        bytes.fromhex("0000ff06fad50332010607e800")  # GetFirmwareVersion answer (UM 7.2.2)
    # The ADC: raw 11 dB readings carry the gain error, calibrated ones do not.
    a = adc.EspAdc(lambda t: 1.0, noise_lsb=0, gain_error=0.08)
    assert abs(a.raw(0, 3) - (1.0 - adc.DEAD_V) / adc.LSB_V * 1.08) < 1
    assert abs(a.calibrated_uv(0, 3) - 1000000) < 1000
    assert a.raw(0, 0) == 4095  # 0 dB: 1 V is above its 950 mV range
    top = adc.EspAdc(lambda t: 3.3, noise_lsb=0, gain_error=0.0)
    assert top.calibrated_uv(0, 3) <= 3100000 and top.raw(0, 3) < 4095 * 3.3 / 3.07
    m = pzem.PzemModel(p, lambda t: (230.0, 1.0, 230.0, 5, 50.0, 1.0))
    assert m.overdriven() and not pzem.PzemModel(p, m.readings, divider=(1000, 2000)).overdriven()


# -- item 1: DS18B20 faults --------------------------------------------------------


def _heating(p, root, temps=None):
    bus = onewire.OneWireBus(p, ONEWIRE_PIN)
    sensors = {}
    for name, rom in (("t_flow", FLOW), ("t_return", RETURN), ("t_zone1", ZONE)):
        value = (temps or {}).get(name, 20.0)
        sensors[name] = bus.add(onewire.Ds18b20(rom, lambda v=value: v))
    gpio.OptoInput(p, 35, lambda t: False)
    n = node(p, "heating", root, {"sensors": {"t_flow": FLOW, "t_return": RETURN,
                                              "t_zone1": ZONE}})
    return n, bus, sensors


def check_ds18b20_faults_are_missing_readings(tmp):
    p = port.Port()
    n, bus, sensors = _heating(p, tmp + "/heat1", {"t_flow": 61.5})
    sensors["t_zone1"].plug(False)
    sensors["t_return"].bit_error_rate = 1.0  # every scratchpad read corrupted
    loop = n.role.temp_loop()
    step(loop, 3)  # convert, wait, read; twice
    readings = n.role.readings()
    assert readings.get("t_flow") == 61.5, readings
    assert "t_zone1" not in readings and "t_return" not in readings, readings
    faults = [e["detail"] for e in events(n, "fault")]
    assert len(faults) == 2, faults  # each reported once, not on every read
    assert any("t_zone1" in f and "CRC" in f for f in faults), faults
    # The plug goes back in: the reading returns.
    sensors["t_zone1"].plug(True)
    step(loop, 1)
    assert "t_zone1" not in n.role.readings()  # +85 degC until it converts once
    step(loop, 2)
    assert n.role.readings()["t_zone1"] == 20.0, n.role.readings()
    # A bus shorted to ground: presence "seen", all-zero scratchpad with a
    # valid CRC. That is not 0.0 degC.
    bus.stuck_low = True
    step(loop, 2)
    readings = n.role.readings()
    assert "t_flow" not in readings and "t_zone1" not in readings, readings
    # Every sensor gone (bus open): no presence pulse at all.
    bus.stuck_low = False
    for s in sensors.values():
        s.plug(False)
    step(loop, 2)
    assert n.role.readings() == {"call": 0}, n.role.readings()


# -- item 2: optocoupler inputs -------------------------------------------------------


def check_opto_inputs_are_active_low(tmp):
    p = port.Port()
    boiler = {"on": False}
    gpio.OptoInput(p, 35, lambda t: boiler["on"])
    onewire.OneWireBus(p, ONEWIRE_PIN)
    b = board(p, "heating")
    assert b.call.value() is False  # no call for heat: the opto is dark, the pin high
    boiler["on"] = True
    assert b.call.value() is True
    # The machine's running signal, same circuit on GPIO34.
    p = port.Port()
    running = {"on": False}
    gpio.OptoInput(p, 34, lambda t: running["on"])
    m = _machine_board(p)
    assert m.running.value() is False
    running["on"] = True
    assert m.running.value() is True
    # GPIO34-39 have no internal pulls: relying on them is a config error.
    errors = parse("machine", {"input_pull": "internal"})[1]
    assert any("GPIO34" in e and "pull" in e for e in errors), errors
    errors = parse("heating", {"input_pull": "internal", "pins": {"call": 33}})[1]
    assert not errors, errors
    # On GPIO33 the internal pull-up holds the input when no opto is fitted.
    p = port.Port()
    onewire.OneWireBus(p, ONEWIRE_PIN)
    gpio.OptoInput(p, 33, lambda t: False, fitted=False, pullup=False)
    b = board(p, "heating", {"input_pull": "internal", "pins": {"call": 33}})
    assert [b.call.value() for _ in range(20)] == [False] * 20
    # What the rule prevents: GPIO35 without the board's pull-up floats.
    p = port.Port()
    gpio.OptoInput(p, 35, lambda t: False, fitted=False, pullup=False)
    pin = p.Pin(35, p.Pin.IN, p.Pin.PULL_UP)
    assert p.ignored_pulls == [35] and len(set(pin.value() for _ in range(40))) == 2


# -- item 3: ADC noise and calibration ---------------------------------------------


def _machine_board(p, extra=None, amps=0.0, noise=5.0, gain=0.07):
    chip = mfrc522.Mfrc522Model(p)
    chip.attach(MACHINE_PINS["rc522_cs"], MACHINE_PINS["rc522_rst"])
    current = {"a": amps}
    signal = adc.ClampSignal(lambda t: current["a"])
    adc.EspAdc(signal, noise_lsb=noise, offset_lsb=6, gain_error=gain).attach(p, 36)
    if 34 not in p.nets:
        gpio.OptoInput(p, 34, lambda t: current["a"] > 0)
    b = board(p, "machine", extra)
    b.current = current
    b.chip = chip
    return b


def check_idle_clamp_reads_no_power(tmp):
    p = port.Port()
    b = _machine_board(p)
    cfg = b.cfg
    power = ClampPower(b.adc, b.clock, cfg["clamp"])
    readings = [finish(power.sample())[0] for _ in range(40)]
    assert max(readings) == 0.0, readings  # no phantom power from noise and offset
    b.current["a"] = 8.0
    readings = [finish(power.sample())[0] for _ in range(10)]
    mean = sum(readings) / len(readings)
    # 8 A at 230 V: within 2 % although the raw readings are 7 % high.
    assert abs(mean - 8.0 * 230) < 0.02 * 8.0 * 230, mean
    b.current["a"] = 0.5  # a small load still shows
    small = finish(power.sample())[0]
    assert 0.8 * 115 < small < 1.2 * 115, small


# -- item 4: PN532 ------------------------------------------------------------------


def _pn532_board(p, asleep=False):
    chip = pn532.Pn532Model(p, asleep=asleep)
    chip.attach()
    adc.EspAdc(adc.ClampSignal(lambda t: 0.0)).attach(p, 36)
    gpio.OptoInput(p, 34, lambda t: False)
    b = board(p, "machine", {"reader": "pn532"})
    b.chip = chip
    return b


def check_pn532_asleep_busy_and_retry_limit(tmp):
    p = port.Port()
    b = _pn532_board(p, asleep=True)  # asleep at boot: building the board must not raise
    reader = b.reader
    faults = []
    reader.on_fault = faults.append
    waiting = reader.wait_change(None)
    step(waiting, 60)  # a few seconds of polls with no card
    chip = b.chip
    assert chip.retries != pn532.INFINITE and chip.sam_done, chip.retries
    assert chip.refused == 0, chip.refused  # never a command over an unfinished one
    assert p.longest_block_us < 5000, p.longest_block_us  # no sleep loops on the event loop
    assert chip.nacks >= 1  # it did NACK (asleep, busy), and that was survived
    chip.field.put(iso14443.Card(UID7, sak=0x00), p.now_us())
    t0 = p.now_us()
    uid = finish(waiting)
    assert uid == UID7, uid
    assert p.now_us() - t0 < 250000, p.now_us() - t0  # within a couple of polls
    # A PN532 that stops answering is reported once, then found again.
    assert faults == [], faults  # asleep at boot is not a fault: it woke up
    chip.field.remove()
    p.i2c_devices.pop(pn532.ADDRESS)
    assert finish(reader.wait_change(uid)) is None  # the card's removal
    waiting = reader.wait_change(None)
    step(waiting, 80)
    assert len(faults) == 1 and "pn532" in faults[0], faults
    chip.attach()
    chip.sam_done = False  # it lost power: back in LowVbat mode
    chip.field.put(iso14443.Card(UID4), p.now_us())
    assert finish(waiting) == UID4


# -- item 6: S0 pulses --------------------------------------------------------------


def _s0_run(pcnt, glitches=0):
    p = port.Port(pcnt=pcnt)
    out = gpio.S0Output(p, 32, gpio.RatePulses(10.0, 5000), glitches=glitches)
    b = board(p, "meter")
    counter = b.s0
    for _ in range(60):
        p.busy_us(300000)  # a flash erase or a blocking call: 300 ms without Python
        p.idle_us(700000)
    return counter.count(), out.pulses, p


def check_s0_counts_every_pulse(tmp):
    counted, sent, p = _s0_run(True, glitches=2)
    assert sent == 600 and counted == sent, (counted, sent)  # PCNT, glitches filtered
    counted, sent, p = _s0_run(False)
    # Soft interrupts (no PCNT on the port): bunched, yet none dropped.
    assert counted == sent == 600, (counted, sent, p.irq_dropped)


# -- item 7: relay polarity -----------------------------------------------------------


def check_relays_are_off_at_boot_whatever_the_polarity(tmp):
    for low_trigger in (True, False):
        p = port.Port()
        relay = gpio.RelayModule(p, 26, low_trigger=low_trigger)
        fan = gpio.RelayModule(p, 27, low_trigger=low_trigger)
        b = _machine_board(p, {"relay_active_low": low_trigger})
        assert not relay.energised and not fan.energised, low_trigger
        b.interlock.set(True)
        assert relay.energised
        b.outputs_off()
        assert not relay.energised and not fan.energised
    # The default config matches the common module: low-level trigger.
    p = port.Port()
    relay = gpio.RelayModule(p, 26, low_trigger=True)
    _machine_board(p)
    assert not relay.energised
    # A config that cannot be trusted drives nothing: a floating IN energises
    # neither kind.
    for low_trigger in (True, False):
        p = port.Port()
        relay = gpio.RelayModule(p, 26, low_trigger=low_trigger)
        cfg, errors = parse("machine", {"relay_active_low": "yes"})
        assert errors
        Board(cfg, p).start_outputs()
        assert not relay.energised


# -- item 8: MFRC522 -------------------------------------------------------------------


def check_mfrc522_reset_version_and_full_uid(tmp):
    p = port.Port()
    b = _machine_board(p)
    chip = b.chip
    chip.field.put(iso14443.Card(UID7, sak=0x00), p.now_us())
    uid = finish(b.reader.wait_change(None))
    assert uid == UID7, uid  # all 7 bytes, not the cascade tag and 3
    # The same card on a PN532 node hashes the same.
    q = port.Port()
    other = _pn532_board(q)
    other.chip.field.put(iso14443.Card(UID7, sak=0x00), q.now_us())
    assert finish(other.reader.wait_change(None)) == uid
    key = bytes.fromhex(KEY)
    assert badge_hash(key, uid) == badge_hash(key, UID7)
    # A reader that never came up is reported once by the machine role (a
    # `fault` event), and retried until it answers.
    p = port.Port()
    b = _machine_board(p)
    b.chip.alive = False
    n = node_on(b, tmp + "/rc522")
    loop = n.role.reader_loop()
    step(loop, 50)
    faults = events(n, "fault")
    assert len(faults) == 1 and faults[0]["reason"] == "reader", faults
    assert "mfrc522" in faults[0]["detail"], faults
    b.chip.alive = True
    b.chip.power_on()
    b.chip.field.put(iso14443.Card(UID4), p.now_us())
    t0 = p.now_us()
    for _ in range(200):
        step(loop, 1)
        if events(n, "badge"):
            break
    assert events(n, "badge"), "the card was never read"
    assert p.now_us() - t0 < 6000000  # the set-up is retried every 5 s
    assert len(events(n, "fault")) == 1


# -- item 9: PZEM-004T ------------------------------------------------------------------


def _pzem_board(p, delay):
    energy = {"wh": 1000}
    meter = pzem.PzemModel(p, lambda t: (230.0, 2.0, 460.0, energy["wh"], 50.0, 1.0),
                           delay_ms=delay)
    meter.attach(16)
    gpio.OptoInput(p, 34, lambda t: False)
    chip = mfrc522.Mfrc522Model(p)
    chip.attach(MACHINE_PINS["rc522_cs"], MACHINE_PINS["rc522_rst"])
    b = board(p, "machine", {"power": "pzem"})
    return b, meter, energy


def check_pzem_slow_replies(tmp):
    from firmware.roles.power import PzemPower

    p = port.Port()
    b, meter, energy = _pzem_board(p, (30, 250))
    power = PzemPower(b.uart, 1)
    samples = []
    for _ in range(30):
        energy["wh"] += 2
        samples.append(finish(power.sample()))
        p.idle_us(1000000)
    assert power.errors == 0, power.last_error
    assert samples[0] == (460.0, 2.0, 0) and all(s[2] == 2 for s in samples[1:]), samples
    # A reply later than the meter's specification is an error once, and its
    # bytes do not spoil the next reading.
    meter.delay_ms = (400, 400)
    assert finish(power.sample())[0] < 0 and power.errors == 1
    meter.delay_ms = (40, 40)
    p.idle_us(200000)
    assert finish(power.sample())[0] == 460.0
    assert PZEM_REGISTERS == 10


CHECKS = (
    check_models_follow_datasheets,
)
FILE_CHECKS = (
    check_ds18b20_faults_are_missing_readings, check_opto_inputs_are_active_low,
    check_idle_clamp_reads_no_power, check_pn532_asleep_busy_and_retry_limit,
    check_s0_counts_every_pulse, check_relays_are_off_at_boot_whatever_the_polarity,
    check_mfrc522_reset_version_and_full_uid, check_pzem_slow_replies,
)


def run(tmp, only=None):
    done = []
    for check in CHECKS:
        if only is None or check.__name__ in only:
            check()
            done.append(check.__name__)
    for check in FILE_CHECKS:
        if only is None or check.__name__ in only:
            check(tmp)
            done.append(check.__name__)
    return done
