# Under MicroPython: the heap a machine node holds after start and one full
# cycle (badge decision, power samples, telemetry into the flash outbox,
# status, an ACL of 60 badges, MQTT packets for the queued messages).
# Prints one line "MEMORY {json}". Hardware is faked with small classes here;
# coroutines are stepped by hand because the WebAssembly port's asyncio has
# no run(). Measurements start a new interpreter call (see tools/mpy/run.mjs):
# only then is the garbage of the previous steps really freed.
import gc
import json
import math
import os
import sys
import time

sys.path.insert(0, "/app")


class Ticks:
    t = 1000


def sleep_ms(ms):
    Ticks.t += ms
    yield


class Out:
    def __init__(self):
        self.on = False

    def set(self, on):
        self.on = on

    def value(self):
        return self.on


class Reader:
    uid = b"\x04\xa1\xb2\xc3"

    def wait_change(self, current):
        yield
        return self.uid


class Adc:
    has_voltage = False
    volts_per_unit = 0.001
    mid_units = 1650

    def __init__(self):
        self.table = [1650 + int(400 * math.sin(2 * math.pi * k / 40)) for k in range(40)]

    def read_chunk(self, i_buf, v_buf, n, interval_us):
        for k in range(n):
            i_buf[k] = self.table[k]


class Link:
    def isconnected(self):
        return True

    def rssi(self):
        return -60


class Hw:
    def __init__(self, root):
        from firmware.clock import Clock

        self.clock = Clock(lambda: Ticks.t, lambda a, b: a - b, sleep_ms)
        self.storage_root = root
        self.config_path = root + "/config.json"
        self.link = Link()
        self.interlock = Out()
        self.extraction = Out()
        self.reader = Reader()
        self.running = None
        self.adc = Adc()
        self.uart = None

    def heap(self):
        return gc.mem_free()

    def rand(self):
        return 0.5

    def reset_cause(self):
        return "power_on"


class Writer:
    def __init__(self):
        self.bytes = 0

    def write(self, data):
        self.bytes += len(data)


def step(coro, times):
    for _ in range(times):
        coro.send(None)


# --- run.mjs: new call ---
gc.collect()
BASELINE = gc.mem_alloc()
# --- run.mjs: new call ---
from firmware import config  # noqa: E402
from firmware.app import Node  # noqa: E402
from protocol import wire  # noqa: E402
from protocol.badge import badge_hash  # noqa: E402

# --- run.mjs: new call ---
gc.collect()
AFTER_IMPORT = gc.mem_alloc()


KEY = "00112233445566778899aabbccddeeff"
cfg = {
    "site": "mem", "device": "node1", "role": "machine", "badge_key": KEY,
    "mqtt": {"host": "10.0.0.2", "password": "x"},
}
cfg, errors = config.parse(json.dumps(cfg))
assert not errors, errors
os.mkdir("/tmp/mem")
hw = Hw("/tmp/mem")
node = Node(cfg, hw)
node.clock.set_unix_ms(1767225600000)
# As main.py does on the board: the config validator is dropped after boot.
del sys.modules["firmware.config"]
del sys.modules["firmware"].config
del config
# --- run.mjs: new call ---
gc.collect()
AFTER_START = gc.mem_alloc()

# An ACL of 60 members, as the api would publish it.
allowed = [badge_hash(bytes.fromhex(KEY), bytes((4, k, k, k))) for k in range(59)]
allowed.append(badge_hash(bytes.fromhex(KEY), Reader.uid))
node.on_message("mf/mem/node1/acl", wire.encode("acl", wire.acl(1, allowed)))

reader = node.role.reader_loop()
t0 = time.ticks_us()
step(reader, 2)  # the card arrives: hash, decision, interlock, events
decision_us = time.ticks_diff(time.ticks_us(), t0)
assert hw.interlock.on, "allowed badge did not close the interlock"

sampler = node.role.sample_loop()
step(sampler, 1 + 3 * (1 + 5))  # three samples of five mains cycles each
node.emit_telemetry()
node.publish_status()
node.on_message("mf/mem/node1/cmd", wire.encode("cmd", wire.cmd("ping", 1)))
node.save(node.clock.now_ms())

writer = Writer()
node.mqtt._next = node.outbox.tail
node.mqtt._send_new(writer, node.clock.now_ms())
node.mqtt._send_retained(writer, node.clock.now_ms())
for entry in list(node.mqtt._inflight):
    node.mqtt._acked(entry[0])
assert node.outbox.pending() == 0, node.outbox.pending()
assert writer.bytes > 300
MQTT_BYTES = writer.bytes
del allowed, writer
# --- run.mjs: new call ---
gc.collect()
AFTER_CYCLE = gc.mem_alloc()
print("MEMORY " + json.dumps({
    "baseline": BASELINE,
    "imports": AFTER_IMPORT - BASELINE,
    "after_start": AFTER_START - BASELINE,
    "after_cycle": AFTER_CYCLE - BASELINE,
    "node_state": AFTER_CYCLE - AFTER_IMPORT,
    "decision_us": decision_us,
    "messages": node.queued,
    "mqtt_bytes": MQTT_BYTES,
}))
