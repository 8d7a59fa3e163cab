# The node application: one object holding all runtime state (no module
# globals, so the simulator runs many nodes in one process), the tasks common
# to every role, and the role's own tasks. Hardware comes in as `hw`, built by
# drivers/board.py on an ESP32 or by the simulator from virtual parts.
import asyncio
import json

from firmware.logic.acl import Acl
from firmware.logic.stamp import SEQ_REBOOT_GAP, SEQ_SAVE_EVERY, Stamper
from firmware.net.mqtt_client import MqttClient
from firmware.store import fsutil
from firmware.store.aclcache import AclCache
from firmware.store.counters import CounterStore, SavePolicy
from firmware.store.outbox import Outbox
from firmware.version import FW_VERSION
from protocol import wire

COMMON_SLOTS = ("seq", "last_ts", "dropped", "boots")
DETAIL_MAX = 200
# How long records stamped by an untrusted clock wait after a connect for
# NTP before they go out with tq=0 (the server then uses its receive time).
TIME_WAIT_MS = 60000


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
        fsutil.makedirs(root)
        self.acl_cache = AclCache(root)
        self.role = role_class(cfg["role"])(self, hw, cfg)
        self.store = CounterStore(root, COMMON_SLOTS + self.role.slots)
        values = self.store.load()
        self.boots = values["boots"] + 1
        self.boot_tag = self.boots % 255 + 1  # 1..255: never 0, which means trusted
        self.role.restore(values)
        seq = values["seq"] + SEQ_REBOOT_GAP if values["seq"] or values["boots"] else 0
        self.stamper = Stamper(self.clock, seq)
        self.clock.start_after(values["last_ts"])
        self.outbox = Outbox(root, int(cfg["outbox_records"]))
        self.outbox.dropped = values["dropped"]
        self.policy = SavePolicy(
            int(cfg["persist_wh"]), int(cfg["persist_s"]) * 1000, SEQ_SAVE_EVERY
        )
        self.mqtt = MqttClient(hw.link, self.clock, cfg["mqtt"], self.outbox, self.site,
                               self.device, hw.rand)
        self.mqtt.on_message = self.on_message
        self.mqtt.on_connect = self.publish_status
        self.mqtt.restamp = self.restamp
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
        self.mqtt.notify()

    def restamp(self, channel: str, payload, tag: int):
        """A record stamped before the clock was trusted, sent now: if it is
        from this boot and the clock has been set since, its true time is
        known (the clock's shift at the first sync) and it goes out with
        tq=1. Same answer on every resend, so replays stay idempotent.
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
        values = self._values()
        self.store.save(values)
        self.policy.mark(now_ms, self.role.energy_wh(), self.stamper.seq, _signature(values))

    def maybe_save(self, now_ms: int) -> None:
        values = self.role.values()
        if self.policy.due(now_ms, self.role.energy_wh(), self.stamper.seq, _signature(values)):
            self.save(now_ms)

    # -- incoming -----------------------------------------------------------

    def on_message(self, topic: str, payload) -> None:
        try:
            channel = wire.parse_topic(topic)[2]
            msg = wire.decode(channel, payload)
            if channel == "acl":
                acl = Acl.from_msg(msg)
                if self.role.acl_received(acl):
                    self.acl_cache.save(bytes(payload))
            elif channel == "cmd":
                self.command(msg)
        except (wire.ProtocolError, ValueError, KeyError, TypeError) as exc:
            # Bad downlink: reported, nothing changed.
            self.emit("fault", {"reason": "downlink", "detail": str(exc)[:DETAIL_MAX]})

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
            fsutil.write_atomic(self.hw.config_path, text.encode())
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

    async def watchdog_loop(self) -> None:
        # Fed from a task of its own: if the scheduler stalls, the board resets.
        period = int(self.cfg["watchdog_ms"]) // 3
        while True:
            self.hw.watchdog.feed()
            await self.clock.sleep_ms(period)

    def tasks(self) -> list:
        tasks = [self.mqtt.run(), self.hw.link.keep_up(), self.telemetry_loop(),
                 self.status_loop(), self.ntp_loop(), self.watchdog_loop()]
        tasks.extend(self.role.tasks())
        return tasks

    async def run(self) -> None:
        self.emit("boot", {"reason": self.hw.reset_cause(), "detail": "fw " + FW_VERSION})
        await asyncio.gather(*self.tasks())


def _signature(values: dict) -> int:
    total = 0
    for key in values:
        total += values[key]
    return total
