# Under MicroPython, the board as main.py builds it: drivers/board.py with the
# ESP32 port module (drivers/port.py), whose `machine`, `esp32`, `onewire`
# and `ds18x20` are stand-ins over the device models (fakes/): every role
# from its default config. Outputs start de-energised on a low-trigger relay
# module, readers do no I/O before the loop runs, the opto input reads
# active-low, probes read through micropython-lib's API, S0 pulses go to
# the PCNT unit, the crash counter is cleared after healthy running.
# Prints "BOARD-OK {json}".
import json
import sys

sys.path.insert(0, "/app")
sys.path.insert(0, "/fakes")

import machine
import network
from mp.signed import DOWNLINK_KEY

from firmware import config
from firmware.drivers.board import Board
from simulator.devices import adc, gpio, iso14443, mfrc522, onewire

PORT = machine.PORT
FLOW = "28010203040506" + "%02x" % onewire.crc8(bytes.fromhex("28010203040506"))
ZONE = "28080808080808" + "%02x" % onewire.crc8(bytes.fromhex("28080808080808"))


def board(role, extra):
    raw = {"site": "b", "device": "dev-" + role, "role": role, "mqtt": {"host": "10.0.0.2"},
           "wifi": {"ssid": "w", "password": "p"}, "downlink_key": DOWNLINK_KEY}
    raw.update(extra)
    cfg, errors = config.parse(json.dumps(raw))
    assert not errors, errors
    b = Board(cfg)
    b.start_outputs()
    b.start()
    return b


out = {}
key = "00112233445566778899aabbccddeeff"
relay = gpio.RelayModule(PORT, 26, low_trigger=True)
running = {"on": False}
gpio.OptoInput(PORT, 34, lambda t: running["on"])
reader = mfrc522.Mfrc522Model(PORT)
reader.attach(config.ROLE_DEFAULTS["machine"]["pins"]["rc522_cs"], 4)
reader.field.put(iso14443.Card(b"\x04\x01\x02\x03"))
adc.EspAdc(adc.ClampSignal(lambda t: 0.0)).attach(PORT, 36)
m = board("machine", {"badge_key": key})
assert m.interlock.value() is False and not relay.energised
m.interlock.set(True)
assert relay.energised
m.outputs_off()
assert not relay.energised
assert reader.frames == 0  # nothing on the bus before the loop runs
assert m.running.value() is False
running["on"] = True
assert m.running.value() is True
assert m.adc is not None and m.uart is None
p = board("machine", {"badge_key": key, "reader": "pn532", "power": "pzem"})
assert p.uart is not None and p.reader.chip.ready is False
assert m.reset_cause() == "watchdog"
# The crash counter (RTC memory): 5 s x 2^n before the reset, n capped at 8.
from firmware.drivers import watchdog  # noqa: E402

machine.RTC.data = b"\x02"
assert watchdog.count_crash() == 20 and machine.RTC.data == b"\x03"
machine.RTC.data = b"\x08"
assert watchdog.count_crash() == 5 << 8 and machine.RTC.data == b"\x08"
# A back-off longer than the watchdog's timeout feeds it, without counting
# as healthy running.
short = watchdog.Watchdog(300)
watchdog.sleep_fed(short, 1)
assert short.wdt.fed == 10 and short.feeds == 0, (short.wdt.fed, short.feeds)
assert machine.RTC.data == b"\x08"
for _ in range(60):
    m.watchdog.feed()
assert machine.RTC.data == b"\x00"  # healthy: crash counter cleared
assert m.link.isconnected() is False and network.names == ["dev-machine", "dev-machine"]

bus = onewire.OneWireBus(PORT, config.ROLE_DEFAULTS["heating"]["pins"]["onewire"])
bus.add(onewire.Ds18b20(FLOW, lambda: 21.5))
bus.add(onewire.Ds18b20(ZONE, lambda: 19.0))
gpio.OptoInput(PORT, 35, lambda t: True)
h = board("heating", {"sensors": {"t_flow": FLOW, "t_zone1": ZONE}})
assert h.thermometers.convert()
assert h.thermometers.read(FLOW) is None  # +85 degC: not converted yet
PORT.idle_us(800000)
assert h.thermometers.read(FLOW) == 21.5 and h.thermometers.read(ZONE) == 19.0
assert h.call.value() is True

s0 = gpio.S0Output(PORT, 32, gpio.RatePulses(10.0, PORT.now_us() + 1000))
s = board("meter", {})
PORT.idle_us(2000000)
out["pcnt"] = s.s0.pcnt is not None
assert s.s0.count() == 20 == s0.pulses, (s.s0.count(), s0.pulses)
out["heap"] = s.heap() > 0
print("BOARD-OK " + json.dumps(out))
