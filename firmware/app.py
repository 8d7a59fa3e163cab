# The node application: one object holding all runtime state (no module
# globals, so the simulator runs many nodes in one process), the tasks common
# to every role, and the role's own tasks. Hardware comes in as `hw`, built by
# drivers/board.py on an ESP32 or by the simulator from virtual parts; `hw.fs`
# (optional) replaces the board's file system (the simulator's flash model).
import asyncio
import gc
import json

from firmware.logic.acl import STALE, TAKEN, Acl
from firmware.logic.stamp import SEQ_REBOOT_GAP, SEQ_SAVE_EVERY, Stamper
from firmware.net.mqtt_client import MqttClient
from firmware.store import fsutil
from firmware.store.aclcache import AclCache
from firmware.store.counters import CounterStore, SavePolicy
from firmware.store.outbox import Outbox
from firmware.supervisor import Supervisor
from firmware.version import FW_VERSION
from protocol import downlink, wire

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

COMMON_SLOTS = ("seq", "last_ts", "dropped", "boots")
DETAIL_MAX = 200
# How long records stamped by an untrusted clock wait after a connect for
# NTP before they go out with tq=0 (the server then uses its receive time).
TIME_WAIT_MS = 60000
# Connected, the flash task waits this long before it writes: records the
# broker has acknowledged by then are never written (store/outbox.py), and
# a LittleFS erase blocks the whole board, a card on the reader too.
FLASH_HOLD_MS = 5000


def role_class(name: str):
    # Imported on demand: a heating node never loads the reader and power code.
    if name == "machine":
        from firmware.roles.machine import MachineRole

        return MachineRole
    if name == "heating":
        from firmware.roles.heating import HeatingRole

        return HeatingRole
    from firmware.roles.meter import MeterRole

    return MeterRole


class Node:
    def __init__(self, cfg: dict, hw):
        self.cfg = cfg
        self.hw = hw
        self.clock = hw.clock
        self.site = cfg["site"]
        self.device = cfg["device"]
        root = hw.storage_root
        self.fs = getattr(hw, "fs", None) or fsutil.FS
        self.fs.makedirs(root)
        self.supervisor = Supervisor(self.clock, self._task_failed, hw.rand)
        # Checks the MAC of every acl and cmd; the config always has it
        # (config.validate: without one the node runs the safe mode).
        self.downlink_key = downlink.key_from_hex(cfg["downlink_key"])
        self.acl_cache = AclCache(root, self.fs)
        self.commands: Any = None  # store/cmdgate.py, loaded with the first command
        self.role = role_class(cfg["role"])(self, hw, cfg)
        self.store = CounterStore(root, COMMON_SLOTS + self.role.slots, self.fs)
        values = self.store.load()
        self.boots = values["boots"] + 1
        self.boot_tag = self.boots % 255 + 1  # 1..255: never 0, which means trusted
        self.role.restore(values)
        seq = values["seq"] + SEQ_REBOOT_GAP if values["seq"] or values["boots"] else 0
        self.stamper = Stamper(self.clock, seq)
        self.clock.start_after(values["last_ts"])
        self.outbox = Outbox(root, int(cfg["outbox_records"]), self.fs, deferred=True)
        self.flash_wake = asyncio.Event()
        self.save_due = False
        self.outbox.dropped = values["dropped"]
        self.policy = SavePolicy(
            int(cfg["persist_wh"]), int(cfg["persist_s"]) * 1000, SEQ_SAVE_EVERY
        )
        self.mqtt = MqttClient(hw.link, self.clock, cfg["mqtt"], self.outbox, self.site,
                               self.device, hw.rand)
        self.mqtt.on_message = self.on_message
        self.mqtt.on_connect = self.publish_status
        self.mqtt.restamp = self.restamp
        self.mqtt.expect = self.supervisor.expect
        self.started_ms = self.clock.now_ms()
        self.queued = {"telemetry": 0, "event": 0}
        self.save(self.started_ms)  # the boot count and the seq jump are on flash now

    # -- outgoing -----------------------------------------------------------

    def emit(self, kind: str, fields: dict) -> None:
        seq, ts, tq = self.stamper.next("event")
        self._queue("event", wire.event(seq, ts, kind, fields, tq))

    def emit_telemetry(self) -> None:
        seq, ts, tq = self.stamper.next("telemetry")
        msg = wire.telemetry(seq, ts, self.role.counters(), self.role.readings(), tq)
        self._queue("telemetry", msg)

    def _queue(self, channel: str, msg: dict) -> None:
        self.queued[channel] += 1
        tag = 0 if msg["tq"] else self.boot_tag
        self.outbox.append(channel, wire.encode(channel, msg), tag)
        self.mqtt.notify()  # sent from RAM at once
        self.flash_wake.set()  # written by flash_loop, if still needed, not by the caller

    def write_flash(self) -> None:
        """What the tasks left for the flash: queued records not yet
        acknowledged in one write, a due counter save. Runs in flash_loop, so
        a badge, a sample or an ack never waits for LittleFS's erase-and-copy."""
        self.outbox.flush()
        if self.save_due:
            self.save(self.clock.now_ms())

    def restamp(self, channel: str, payload, tag: int):
        """A record stamped before the clock was trusted, sent now: if it is
        from this boot and the clock has been set since, its true time is
        known (the clock's shift at the first sync) and it goes out with
        tq=1. Same answer on every resend, so replays stay idempotent (a
        record already sent as it was is resent so: mqtt_client._plain).
        Records of an earlier boot keep tq=0: their timebase is gone.
        None means "not yet": right after a connect NTP usually answers
        within seconds, so such records wait for it, at most TIME_WAIT_MS."""
        if tag != self.boot_tag:
            return payload
        if not self.clock.trusted:
            if self.clock.now_ms() - self.mqtt.connected_at < TIME_WAIT_MS:
                return None
            return payload
        msg = json.loads(bytes(payload))
        msg["ts"] += self.clock.first_shift_ms
        msg["tq"] = 1
        return wire.encode(channel, msg)

    def status(self) -> dict:
        now = self.clock.now_ms()
        msg = wire.status_online(
            self.clock.unix_ms(), self.role.name, FW_VERSION,
            (now - self.started_ms) // 1000, self.hw.heap(), 1 if self.clock.trusted else 0,
        )
        msg["outbox"] = self.outbox.pending()
        msg["dropped"] = self.outbox.dropped
        msg["reconnects"] = self.mqtt.reconnects
        msg["rssi"] = self.hw.link.rssi()
        return msg

    def publish_status(self) -> None:
        self.mqtt.publish_retained(self.mqtt.topics["status"], wire.encode("status", self.status()))

    # -- persistence --------------------------------------------------------

    def _values(self) -> dict:
        values = self.role.values()
        values["seq"] = self.stamper.seq
        values["last_ts"] = self.stamper.last_ts() or self.clock.unix_ms()
        values["dropped"] = self.outbox.dropped
        values["boots"] = self.boots
        return values

    def save(self, now_ms: int) -> None:
        self.save_due = False
        self.outbox.flush()  # the records numbered before this save are on flash first
        values = self._values()
        self.store.save(values)
        self.policy.mark(now_ms, self.role.energy_wh(), self.stamper.seq, _signature(values))

    def maybe_save(self, now_ms: int) -> None:
        values = self.role.values()
        if self.policy.due(now_ms, self.role.energy_wh(), self.stamper.seq, _signature(values)):
            self.save_due = True
            self.flash_wake.set()

    # -- incoming -----------------------------------------------------------

    def on_message(self, topic: str, payload) -> None:
        channel = ""
        try:
            channel = wire.parse_topic(topic)[2]
            if channel == "acl":
                self.acl_received(payload)
            elif channel == "cmd":
                self.command(self.command_gate().open(payload))
        except downlink.Refused as exc:
            # Forged, replayed or crossed: nothing changed; the event says why.
            self.refused(channel, exc.code, exc.detail)
        except (wire.ProtocolError, ValueError, KeyError, TypeError) as exc:
            # Bad downlink: reported, nothing changed.
            self.emit("fault", {"reason": "downlink", "detail": str(exc)[:DETAIL_MAX]})

    def command_gate(self):
        """Commands are rare: their gate (1.2 KB of RAM with .mpy files) is
        loaded by the first one, and reads the version last taken then."""
        if self.commands is None:
            from firmware.store.cmdgate import CommandGate

            self.commands = CommandGate(self.hw.storage_root, self.downlink_key, self.fs)
        return self.commands

    def refused(self, channel: str, code: str, detail: str) -> None:
        """reason: acl_bad_mac, acl_stale, cmd_bad_mac, cmd_stale (docs/protocol.md)."""
        self.emit("refused", {"reason": channel + "_" + code, "detail": detail[:DETAIL_MAX]})

    def acl_received(self, payload) -> None:
        """The retained ACL: its MAC checked on the bytes as received, then
        parsed straight into packed hashes (no JSON objects, no copy of the
        payload), then taken only if its version is newer than the one held.
        One that does not fit in RAM is refused and reported, and the cached
        one stays: being retained, it comes back on every connect, and a
        MemoryError here would otherwise reset the node on every connect."""
        decider = getattr(self.role, "decider", None)
        if decider is None:
            return  # not a machine: no ACL to hold
        held = decider.acl.ver
        if payload is None:
            detail = "ACL above %d bytes refused" % wire.MAX_ACL_PAYLOAD
        else:
            mac = downlink.check("acl", self.downlink_key, payload)
            try:
                acl = Acl.from_payload(payload, mac)
            except MemoryError:
                gc.collect()
                detail = "ACL of %d bytes does not fit in RAM" % len(payload)
            else:
                taken = decider.offer(acl)
                if taken == TAKEN:
                    self.acl_cache.save(payload)
                elif taken == STALE:
                    detail = "version %d is not newer than %d; kept" % (acl.ver, held)
                    raise downlink.Refused("stale", detail)
                return
        self.emit("fault", {"reason": "acl", "detail": "%s; version %d kept" % (detail, held)})

    def command(self, msg: dict) -> None:
        op = msg["op"]
        args = msg.get("args") or {}
        if op == "time":
            self.clock.set_unix_ms(int(args["ms"]))
        elif op == "ping":
            self.publish_status()
        elif op == "reboot":
            self.save(self.clock.now_ms())
            self.hw.reset()
        elif op == "config":
            from firmware import config  # loaded only when needed: it is 7 KB of RAM

            text = json.dumps(args.get("config"))
            errors = config.parse(text)[1]
            if errors:
                raise ValueError("config rejected: " + "; ".join(errors))
            self.fs.write_atomic(self.hw.config_path, text.encode())
            self.save(self.clock.now_ms())
            self.hw.reset()
        elif not self.role.command(op, args):
            raise ValueError("op %s does not apply to a %s node" % (op, self.role.name))

    # -- tasks --------------------------------------------------------------

    async def telemetry_loop(self) -> None:
        period = int(self.cfg["telemetry_s"]) * 1000
        while True:
            await self.clock.sleep_ms(period)
            self.emit_telemetry()
            self.maybe_save(self.clock.now_ms())

    async def status_loop(self) -> None:
        period = int(self.cfg["status_s"]) * 1000
        while True:
            await self.clock.sleep_ms(period)
            if self.mqtt.connected:
                self.publish_status()

    async def ntp_loop(self) -> None:
        every = int(self.cfg["ntp_every_s"]) * 1000
        while True:
            unix_ms = None
            if self.hw.link.isconnected():
                unix_ms = await self.hw.ntp.unix_ms(self.cfg["ntp_host"])
            if unix_ms is not None:
                self.clock.set_unix_ms(unix_ms)
                self.mqtt.notify()  # records held for a trusted time can go
                await self.clock.sleep_ms(every)
            else:
                # Soon after the network returns: queued records wait for it.
                await self.clock.sleep_ms(5000)

    async def flash_loop(self) -> None:
        while True:
            # Nothing to write for minutes is no stall (the sleep below
            # announced a deadline that would otherwise run out).
            self.supervisor.idle()
            await self.flash_wake.wait()
            self.flash_wake.clear()
            # One scheduler turn first: everything the waking step queued
            # (a decision and its session start) goes in the same write;
            # connected, the broker's acknowledgements first.
            await self.clock.sleep_ms(FLASH_HOLD_MS if self.mqtt.connected else 0)
            self.write_flash()

    async def watchdog_loop(self) -> None:
        """Feeds only while every supervised task shows progress; a stalled
        one is reported (on flash: it goes out after the reset) and the
        watchdog resets the board."""
        period = int(self.cfg["watchdog_ms"]) // 3
        reported = None
        while True:
            stalled = self.supervisor.stalled(self.clock.now_ms())
            if stalled is None:
                self.hw.watchdog.feed()
            elif stalled != reported:
                reported = stalled
                self.emit("fault", {"reason": "stalled", "detail": stalled})
                self.write_flash()
            await self.clock.sleep_ms(period)

    def _task_failed(self, name: str, detail: str) -> None:
        self.emit("fault", {"reason": "task", "detail": (name + ": " + detail)[:DETAIL_MAX]})

    def tasks(self) -> list:
        """(name, coroutine function) of every task the supervisor keeps."""
        tasks = [("mqtt", self.mqtt.run), ("link", self.hw.link.keep_up),
                 ("telemetry", self.telemetry_loop), ("status", self.status_loop),
                 ("ntp", self.ntp_loop), ("flash", self.flash_loop)]
        tasks.extend(self.role.tasks())
        return tasks

    async def run(self) -> None:
        self.emit("boot", {"reason": self.hw.reset_cause(), "detail": "fw " + FW_VERSION})
        if self.acl_cache.refused:
            self.refused("acl", "bad_mac", self.acl_cache.refused)
        keep = self.supervisor.keep
        # The feeder is not supervised: if it fails, nothing feeds and the
        # watchdog resets the board.
        await asyncio.gather(self.watchdog_loop(), *[keep(n, f) for n, f in self.tasks()])


def _signature(values: dict) -> int:
    total = 0
    for key in values:
        total += values[key]
    return total
