# Under MicroPython: heating and meter nodes through a few cycles on fake
# hardware, and the re-stamping of records queued before the clock was
# trusted. Prints "ROLES-OK {json}".
import json
import os
import sys

sys.path.insert(0, "/app")

from mp.fakeparts import BoardBase, Out
from mp.signed import DOWNLINK_KEY

from firmware import config
from firmware.app import Node
from firmware.clock import Clock
from protocol import wire


class Ticks:
    t = 5000


def sleep_ms(ms):
    Ticks.t += ms
    yield


class Link:
    def isconnected(self):
        return False

    def rssi(self):
        return 0


class Therm:
    error = ""

    def __init__(self):
        self.values = {"28aaaaaaaaaaaaaa": 61.5, "28bbbbbbbbbbbbbb": 44.25}

    def convert(self):
        pass

    def read(self, rom):
        return self.values.get(rom)


class S0:
    def __init__(self):
        self.n = 0

    def count(self):
        return self.n


class Hw(BoardBase):
    def __init__(self, root):
        self.clock = Clock(lambda: Ticks.t, lambda a, b: a - b, sleep_ms)
        self.storage_root = root
        self.config_path = root + "/config.json"
        self.link = Link()
        self.thermometers = Therm()
        self.call = Out(True)
        self.s0 = S0()


def step(coro, times):
    for _ in range(times):
        coro.send(None)


def make(role, extra, root):
    raw = {"site": "mp", "device": role, "role": role, "mqtt": {"host": "10.0.0.2"},
           "downlink_key": DOWNLINK_KEY}
    raw.update(extra)
    cfg, errors = config.parse(json.dumps(raw))
    assert not errors, errors
    os.mkdir(root)
    return Node(cfg, Hw(root))


out = {}
heat = make("heating", {"sensors": {"t_flow": "28aaaaaaaaaaaaaa", "t_return": "28bbbbbbbbbbbbbb",
                                    "t_zone1": "28cccccccccccccc"}}, "/tmp/heat")
temps = heat.role.temp_loop()
step(temps, 2)  # convert, wait, read
calls = heat.role.call_loop()
step(calls, 1 + 90)  # 90 s of call for heat at 1 s
readings = heat.role.readings()
assert readings["t_flow"] == 61.5 and readings["t_return"] == 44.25, readings
assert "t_zone1" not in readings and heat.role.sensor_faults == 1  # missing sensor left out
assert heat.queued["event"] == 1  # one fault event for it
assert heat.role.counters()["burn_s"] in (89, 90), heat.role.counters()
out["heating"] = readings

meter = make("meter", {"pulses_per_kwh": 800}, "/tmp/meter")
loop = meter.role.sample_loop()
step(loop, 1)
meter.hw.s0.n = 1600  # 2 kWh
step(loop, 1)
assert meter.role.counters() == {"wh": 2000, "pulses": 1600}, meter.role.counters()
out["meter"] = meter.role.counters()

# A message queued with an untrusted clock (as after a power cut offline) is
# sent with its true time once NTP has answered.
meter.emit_telemetry()
meter.write_flash()  # the flash task's step: queued records go to flash
record = meter.outbox.read(meter.outbox.head - 1)
assert meter.outbox.last_tag == meter.boot_tag
sent_before = json.loads(bytes(record[1]))
assert sent_before["tq"] == 0
meter.mqtt.connected_at = meter.clock.now_ms()
assert meter.restamp(record[0], record[1], meter.outbox.last_tag) is None  # waits for NTP
meter.clock.set_unix_ms(1767225600000)
fixed = wire.decode("telemetry", meter.restamp(record[0], record[1], meter.outbox.last_tag))
assert fixed["tq"] == 1 and fixed["ts"] == 1767225600000, fixed
out["restamped_ts"] = fixed["ts"]
print("ROLES-OK " + json.dumps(out))
