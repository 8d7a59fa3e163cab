# Under MicroPython: the heap of a machine node running all its tasks on
# asyncio, its MQTT client connected and holding a 200-badge ACL, after a
# badge decision, power samples, telemetry and status went out and were
# acknowledged; then what receiving the largest ACL the protocol allows
# costs. Prints one line "MEMORY {json}".
#
# The WebAssembly port has no sockets. The connection is approximated in the
# same interpreter: two in-memory pipes behind stream objects shaped like the
# ESP32 port's asyncio Stream (read(n) returns a new bytes object, write()
# appends to an out buffer that drain() hands over), and a broker coroutine
# speaking real MQTT through the firmware's own codec (CONNACK, SUBACK, the
# retained ACL, PUBACK, PINGRESP). What is not in the figure: lwIP's socket
# buffers, which live outside the MicroPython heap on the board.
# Measurements start a new interpreter call (see tools/mpy/run.mjs): only then
# is the garbage of the previous steps really freed. After a call that ran the
# node's tasks (an await), the first collection still keeps 5-17 KB that the
# port alone holds: the figure drops by that much in the next call although no
# task ran in between (a task counting every millisecond does not advance
# across calls without an await, so the node's objects are the same). So each
# sample is taken one call later, after a call that only collects.
import gc
import sys

sys.path.insert(0, "/app")
import asyncio
import time

# --- run.mjs: new call ---
gc.collect()
BASELINE = gc.mem_alloc()
# --- run.mjs: new call ---
import json  # noqa: E402
import math  # noqa: E402

from mp.fakeparts import Out  # noqa: E402

from firmware import config  # noqa: E402
from firmware.app import Node  # noqa: E402
from firmware.clock import Clock  # noqa: E402
from firmware.net import mqtt_codec as codec  # noqa: E402
from protocol import wire  # noqa: E402
from protocol.badge import badge_hash  # noqa: E402

# --- run.mjs: new call ---
gc.collect()
AFTER_IMPORT = gc.mem_alloc()
SPEED = 50  # virtual ms per real ms: a 60 s telemetry period takes 1.2 s
KEY = "00112233445566778899aabbccddeeff"
UID = b"\x04\xa1\xb2\xc3"
ACL_BADGES = 200


def ticks():
    return time.ticks_ms() * SPEED


def sleep_ms(ms):
    return asyncio.sleep_ms(ms // SPEED)


class Pipe:
    def __init__(self):
        self.buf = bytearray()
        self.ready = asyncio.Event()
        self.closed = False


class Stream:
    """The board's asyncio Stream, over pipes instead of a socket."""

    def __init__(self, rx, tx):
        self.rx = rx
        self.tx = tx
        self.out_buf = b""

    async def read(self, n):
        while not self.rx.buf and not self.rx.closed:
            self.rx.ready.clear()
            await self.rx.ready.wait()
        data = bytes(self.rx.buf[:n])
        if n < len(self.rx.buf):
            self.rx.buf[:n] = b""
        else:
            # Emptied: a new buffer, since a bytearray keeps its capacity when
            # cut. The pipe stands for lwIP's socket buffer, outside the heap
            # on the board: it must not keep the largest packet (the retained
            # ACL) in the figure.
            self.rx.buf = bytearray()
        return data

    def write(self, data):
        self.out_buf += data

    async def drain(self):
        self.tx.buf.extend(self.out_buf)
        self.out_buf = b""
        self.tx.ready.set()
        await asyncio.sleep_ms(0)

    def close(self):
        self.tx.closed = True
        self.tx.ready.set()


class Broker:
    """Enough of an MQTT broker for one client, through the firmware's codec."""

    def __init__(self, acl_payload):
        self.acl_payload = acl_payload
        self.stream = None
        self.task = None
        self.published = 0
        self.pid = 100

    async def serve(self, stream):
        self.stream = stream
        parser = codec.Parser()
        while True:
            data = await stream.read(512)
            if not data:
                return
            parser.feed(data)
            while True:
                packet = parser.next()
                if packet is None:
                    break
                kind, flags, body = packet
                if kind == codec.CONNECT:
                    stream.write(b"\x20\x02\x00\x00")
                elif kind == codec.SUBSCRIBE:
                    stream.write(b"\x90\x04" + bytes(body[:2]) + b"\x01\x01")
                    self.send_acl()
                elif kind == codec.PUBLISH:
                    self.published += 1
                    if flags & 0x06:
                        stream.write(codec.puback(codec.parse_publish(flags, body)[3]))
                elif kind == codec.PINGREQ:
                    stream.write(b"\xd0\x00")
                await stream.drain()

    def send_acl(self):
        self.pid += 1
        topic = wire.topic("mem", "node1", "acl")
        self.stream.write(codec.publish(topic, self.acl_payload, 1, True, self.pid))


class Link:
    def __init__(self, broker):
        self.broker = broker

    def isconnected(self):
        return True

    def rssi(self):
        return -60

    async def keep_up(self):
        while True:
            await sleep_ms(10000)

    async def open_connection(self, host, port):
        up = Pipe()
        down = Pipe()
        self.broker.task = asyncio.create_task(self.broker.serve(Stream(up, down)))
        return Stream(down, up), Stream(down, up)


class Reader:
    def __init__(self):
        self.card = asyncio.Event()

    async def wait_change(self, current):
        await self.card.wait()
        self.card.clear()
        return UID


class Adc:
    has_voltage = False
    volts_per_unit = 0.001
    mid_units = 1650

    def __init__(self):
        self.table = [1650 + int(400 * math.sin(2 * math.pi * k / 40)) for k in range(40)]

    def read_chunk(self, i_buf, v_buf, n, interval_us):
        for k in range(n):
            i_buf[k] = self.table[k]


class Ntp:
    async def unix_ms(self, host):
        return 1767225600000


class Watchdog:
    def __init__(self):
        self.fed = 0

    def feed(self):
        self.fed += 1


class Hw:
    def __init__(self, root, broker):
        self.clock = Clock(ticks, lambda a, b: a - b, sleep_ms)
        self.storage_root = root
        self.config_path = root + "/config.json"
        self.link = Link(broker)
        self.ntp = Ntp()
        self.watchdog = Watchdog()
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

    def reset(self):
        raise AssertionError("the node asked for a reset")


def signed_acl(ver, hashes):
    """Sealed as the api does (protocol/sign.py), which a node never loads:
    the signing modules are dropped again, so no figure counts them."""
    from mp.signed import sealed

    payload = sealed("acl", wire.acl(ver, hashes))
    for name in ("mp.signed", "protocol.sign"):
        del sys.modules[name]
        package, attr = name.split(".")
        if hasattr(sys.modules[package], attr):
            delattr(sys.modules[package], attr)
    return payload


def acl_payload(ver, count, key):
    hashes = [badge_hash(key, bytes((4, k >> 8, k & 255, 1))) for k in range(count - 1)]
    hashes.append(badge_hash(key, UID))
    return signed_acl(ver, hashes)


async def until(test, what, limit_s=20):
    for _ in range(limit_s * 100):
        if test():
            return
        await asyncio.sleep_ms(10)
    raise AssertionError("timed out waiting for " + what)


key = bytes.fromhex(KEY)
cfg, errors = config.parse(json.dumps({
    "site": "mem", "device": "node1", "role": "machine", "badge_key": KEY,
    "downlink_key": "0f1e2d3c4b5a69788796a5b4c3d2e1f0" * 2,  # mp/signed.py's
    "mqtt": {"host": "10.0.0.2", "password": "x"},
}))
assert not errors, errors
import os  # noqa: E402

os.mkdir("/tmp/mem")
broker = Broker(acl_payload(1, ACL_BADGES, key))
hw = Hw("/tmp/mem", broker)
node = Node(cfg, hw)
# As main.py does on the board: the config validator is dropped after boot.
del sys.modules["firmware.config"]
del sys.modules["firmware"].config
del config, errors
del acl_payload  # built before the node ran; the broker keeps the bytes it sends
RUN = asyncio.create_task(node.run())  # noqa: RUF006 - held here until the process ends
decider = node.role.decider
await until(lambda: node.mqtt.connected and decider.acl.ver == 1, "connect and ACL")  # noqa: F704
assert len(decider.acl) == ACL_BADGES
t0 = time.ticks_us()
hw.reader.card.set()
await until(lambda: hw.interlock.on, "the badge decision")  # noqa: F704
decision_us = time.ticks_diff(time.ticks_us(), t0)
await until(lambda: node.queued["telemetry"] >= 1, "telemetry")  # noqa: F704
await until(lambda: node.outbox.pending() == 0 and broker.published >= 4, "acks")  # noqa: F704
await asyncio.sleep_ms(50)  # noqa: F704
assert node.supervisor.failures == 0 and hw.watchdog.fed > 0
broker.acl_payload = None  # the test's copy, not the node's
# The heap of a running node moves with its tasks' work in flight: the
# largest of three samples, a tenth of a (real) second apart, counts; each
# after a call that only collects (see the top).
SAMPLES = []
# --- run.mjs: new call ---
gc.collect()
# --- run.mjs: new call ---
gc.collect()
SAMPLES.append(gc.mem_alloc())
await asyncio.sleep_ms(100)  # noqa: F704
# --- run.mjs: new call ---
gc.collect()
# --- run.mjs: new call ---
gc.collect()
SAMPLES.append(gc.mem_alloc())
await asyncio.sleep_ms(100)  # noqa: F704
# --- run.mjs: new call ---
gc.collect()
# --- run.mjs: new call ---
gc.collect()
SAMPLES.append(gc.mem_alloc())
CONNECTED = max(SAMPLES)
# The largest ACL the protocol allows, through the client's own parser in
# 512-byte reads. The live peak is the level with the whole packet body held
# (the parser fills one buffer of its size), or after parsing while the body
# is still held plus the old ACL, which lives until the new one replaces it;
# the per-entry garbage in between is collectable, not needed.
topic = wire.topic("mem", "node1", "acl")
hashes = ["%016x" % (k * 9999991) for k in range(wire.MAX_ACL_BADGES)]
hashes.sort()
packet = codec.publish(topic, signed_acl(2, hashes), 1, True, 7)
view = memoryview(packet)
del hashes
parser = codec.Parser()
OLD_ACL = len(decider.acl) * 8
for k in range(0, len(packet), 512):
    parser.feed(view[k : k + 512])
got = parser.next()
# --- run.mjs: new call ---
gc.collect()
BODY_HELD = gc.mem_alloc() - len(packet)  # the test's own copy of the packet is not the node's
node.on_message(*codec.parse_publish(got[1], got[2])[:2])
# --- run.mjs: new call ---
gc.collect()
PARSED = gc.mem_alloc() - len(packet)
assert decider.acl.ver == 2 and len(decider.acl) == wire.MAX_ACL_BADGES, decider.acl.ver
ACL_PEAK = max(BODY_HELD, PARSED + OLD_ACL) - BASELINE
del packet, view, parser, got
# --- run.mjs: new call ---
gc.collect()
WITH_MAX_ACL = gc.mem_alloc()
print("MEMORY " + json.dumps({
    "baseline": BASELINE,
    "imports": AFTER_IMPORT - BASELINE,
    "connected": CONNECTED - BASELINE,
    "connected_min": min(SAMPLES) - BASELINE,
    "node_state": CONNECTED - AFTER_IMPORT,
    "acl_badges": ACL_BADGES,
    "max_acl_badges": wire.MAX_ACL_BADGES,
    "max_acl_payload": wire.MAX_ACL_PAYLOAD,
    "acl_peak": ACL_PEAK,
    "acl_extra": ACL_PEAK - (CONNECTED - BASELINE),
    "with_max_acl": WITH_MAX_ACL - BASELINE,
    "decision_us": decision_us,
    "messages": node.queued,
    "broker_received": broker.published,
    "restarts": node.supervisor.failures,
}))
