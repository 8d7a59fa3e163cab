# A machine node on the flash model (simulator/devices/flash.py), under
# MicroPython (tools/mpy/run.mjs) and CPython (tests/firmware/test_flash.py):
# LittleFS's erase-and-copy stays off the badge path, records the broker
# acknowledges before the flash task's turn never reach the flash, a power
# cut at any point of a config write leaves config.json whole (old or new),
# an ACL too large is refused with the cached one kept, and the watchdog is
# fed only while every supervised task shows progress.
# `run(tmp)` -> {check name: figures}.
import json
import os

from firmware.app import Node
from firmware.clock import Clock
from firmware.logic.acl import Acl
from simulator.devices.flash import Flash, PowerCut

from .fakeparts import BoardBase, Out
from .signed import DOWNLINK_KEY, sealed

KEY = "00112233445566778899aabbccddeeff"
UID = b"\x04\xa1\xb2\xc3"


class Ticks:
    t = 1000


def charge(ms):
    # A flash write blocks the whole interpreter: the node's clock moves on.
    Ticks.t += int(ms + 0.5)


class _Turn:
    """One scheduler turn, awaitable under CPython and MicroPython."""

    def __await__(self):
        yield

    __iter__ = __await__


def sleep_ms(ms):
    Ticks.t += ms
    return _Turn()


class Reader:
    async def wait_change(self, current):
        await _Turn()
        return UID


class Link:
    def isconnected(self):
        return False

    def rssi(self):
        return 0


class Hw(BoardBase):
    def __init__(self, root, fs):
        self.clock = Clock(lambda: Ticks.t, lambda a, b: a - b, sleep_ms)
        self.storage_root = root
        self.config_path = root + "/config.json"
        self.fs = fs
        self.link = Link()
        self.interlock = Out()
        self.extraction = Out()
        self.reader = Reader()
        self.running = None
        self.uart = None
        self.adc = None
        self.resets = 0

    def reset(self):
        self.resets += 1


def machine_cfg(device):
    from firmware import config

    raw = {"site": "fl", "device": device, "role": "machine", "badge_key": KEY,
           "power": "pzem", "mqtt": {"host": "10.0.0.2"}, "downlink_key": DOWNLINK_KEY}
    cfg, errors = config.parse(json.dumps(raw))
    assert not errors, errors
    return cfg


def node_on_flash(root, flash):
    os.mkdir(root)
    return Node(machine_cfg(root.split("/")[-1]), Hw(root, flash))


def step(coro, times):
    for _ in range(times):
        coro.send(None)


def check_badge_path_writes_no_flash(tmp):
    flash = Flash(charge=charge)
    node = node_on_flash(tmp + "/badge", flash)
    from protocol.badge import badge_hash

    allowed = badge_hash(bytes.fromhex(KEY), UID)
    node.role.decider.offer(Acl.from_hashes(1, [allowed]))
    node.write_flash()
    reader = node.role.reader_loop()
    step(reader, 1)  # polling
    busy, erases, head = flash.busy_ms, flash.erases, node.outbox.head
    step(reader, 1)  # the card: hash, decision, interlock, two events queued
    assert node.hw.interlock.on
    spent = flash.busy_ms - busy
    assert spent == 0, "flash written on the badge path: %.1f ms" % spent
    node.write_flash()  # the flash task's turn: both records in one write
    assert node.outbox.head == head + 2, (node.outbox.head, head)
    assert flash.erases - erases == 1, flash.erases - erases
    write_ms = flash.busy_ms - busy
    assert write_ms < flash.erase_ms + 4 * flash.program_ms, write_ms
    # Acknowledged records: the tail log waits for the flash task too.
    for k in range(20):
        node.emit("fault", {"reason": "test", "detail": str(k)})
        node.write_flash()
    busy = flash.busy_ms
    node.outbox.ack_to(node.outbox.head)
    assert flash.busy_ms == busy
    node.write_flash()
    assert flash.busy_ms > busy
    return {"write_ms": write_ms, "badge_path_ms": 0}


def check_acknowledged_records_need_no_flash(tmp):
    """Connected, the broker acknowledges a record within milliseconds: one
    it has acknowledged before the flash task writes needs no flash, so a
    node at work erases no block per message (each erase blocks the whole
    board, 45 ms and up to 400 ms: a card on the reader then waits). A record
    not yet acknowledged is still written, and sent from RAM meanwhile."""
    flash = Flash(charge=charge)
    node = node_on_flash(tmp + "/acked", flash)
    box = node.outbox
    node.write_flash()
    erases = flash.erases
    for _ in range(5):
        node.emit_telemetry()
        r = box.tail + box.pending() - 1
        record = box.read(r)  # the MQTT client sends it before it is on flash
        assert record is not None and record[0] == "telemetry", record
        box.ack_to(r + 1)  # its PUBACK
        node.write_flash()  # the flash task's turn
    assert flash.erases == erases, "acknowledged records written: %d erases" % (
        flash.erases - erases)
    node.emit_telemetry()  # not acknowledged: written, and still there after a restart
    node.write_flash()
    assert flash.erases == erases + 1 and box.pending() == 1
    again = Node(machine_cfg("acked"), Hw(tmp + "/acked", flash))
    assert again.outbox.pending() == 1 and again.outbox.read(again.outbox.tail) is not None
    return {"erases_for_5_acked": 0}


def check_config_write_survives_power_cut(tmp):
    flash = Flash()
    node = node_on_flash(tmp + "/cut", flash)
    path = node.hw.config_path
    old = machine_cfg("cut")
    new = machine_cfg("cut")
    new["telemetry_s"] = 30
    old_text = json.dumps(old)
    outcomes = []
    k = 0
    while True:
        k += 1
        node.fs.write(path, old_text.encode())  # the old config, then a cut at op k
        flash.ops = 0
        flash.cut_at = k
        resets = node.hw.resets
        try:
            node.command({"op": "config", "args": {"config": new}})
        except PowerCut:
            pass
        flash.cut_at = -1
        data = flash.read(path)
        assert data is not None, "no config.json after a cut at operation %d" % k
        got = json.loads(data)
        assert got in (old, new), got
        outcomes.append("new" if got == new else "old")
        if node.hw.resets > resets:
            break  # the write went through and the node restarted
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes
    return {"cuts": len(outcomes) - 1, "outcomes": outcomes}


def check_acl_refused_keeps_the_cached_one(tmp):
    """An ACL too large for the limit (refused by the MQTT parser, handed on
    as None) or for the RAM left (MemoryError while parsing) is reported and
    changes nothing: the node decides with the ACL it had, also after a
    restart. Being retained, such an ACL comes back on every connect: it must
    never reset the node."""
    from protocol import wire

    root = tmp + "/acl"
    node = node_on_flash(root, Flash())
    faults = []
    emit = node.emit
    node.emit = lambda kind, fields: (faults.append(fields), emit(kind, fields))
    topic = wire.topic("fl", "acl", "acl")
    node.on_message(topic, memoryview(sealed("acl", wire.acl(1, ["00000000000000aa"]))))
    assert node.role.decider.acl.ver == 1 and not faults
    node.on_message(topic, None)
    real = Acl.from_payload

    def no_memory(payload, mac=b""):
        raise MemoryError("memory allocation failed, allocating 16384 bytes")

    Acl.from_payload = no_memory
    try:
        node.on_message(topic, sealed("acl", wire.acl(2, ["00000000000000bb"])))
    finally:
        Acl.from_payload = real
    assert node.role.decider.acl.ver == 1 and node.role.decider.allowed("00000000000000aa")
    details = [f["detail"] for f in faults if f.get("reason") == "acl"]
    assert len(details) == 2 and "above" in details[0] and "RAM" in details[1], details
    assert details[1].endswith("version 1 kept"), details
    node.write_flash()
    again = Node(machine_cfg("acl"), Hw(root, node.fs))
    assert again.role.decider.acl.ver == 1
    return {"refused": len(details)}


def check_watchdog_fed_only_with_progress(tmp):
    node = node_on_flash(tmp + "/wd", Flash())
    fed = []
    faults = []

    class Wdt:
        def feed(self):
            fed.append(node.clock.now_ms())

    node.hw.watchdog = Wdt()
    emit = node.emit
    node.emit = lambda kind, fields: (faults.append(fields), emit(kind, fields))
    sample = ["sample", object(), -1]  # a supervised task, not yet waiting
    node.supervisor._entries.append(sample)
    feeder = node.watchdog_loop()
    step(feeder, 1)
    assert len(fed) == 1
    sample[2] = node.clock.now_ms() - 1  # past the wait it announced
    step(feeder, 2)
    assert len(fed) == 1, "fed while a task was stalled"
    assert [f["detail"] for f in faults if f["reason"] == "stalled"] == ["sample"], faults
    sample[2] = node.clock.now_ms() + 60000  # it came back and waits again
    step(feeder, 1)
    assert len(fed) == 2
    return {"feeds": len(fed)}


CHECKS = (check_watchdog_fed_only_with_progress, check_badge_path_writes_no_flash,
          check_acknowledged_records_need_no_flash, check_config_write_survives_power_cut,
          check_acl_refused_keeps_the_cached_one)


def run(tmp):
    out = {}
    for check in CHECKS:
        out[check.__name__] = check(tmp)
    return out
