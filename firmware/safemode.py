# A config that cannot run: outputs off, the errors reported, and a remote
# fix accepted. Kept out of app.py so that a healthy node never loads it.
import asyncio
import json

from firmware import config
from firmware.logic.stamp import Stamper
from firmware.net.mqtt_client import MqttClient
from firmware.store import fsutil
from firmware.store.cmdgate import CommandGate
from firmware.store.outbox import Outbox
from protocol import downlink, wire

try:
    from typing import Any  # only for the type checker; absent on the board
except ImportError:
    pass

DETAIL_MAX = 200


class SafeMode:
    """A config that cannot run: outputs stay off, the errors go out as a
    fault event whenever the network settings allow, and a signed `config`
    command (validated first) can repair the node remotely, when the config
    still holds a usable downlink key; without one, only the serial console
    can. No exception escapes, so there is no boot loop."""

    def __init__(self, cfg: dict, errors: list, hw):
        self.cfg = cfg
        self.errors = errors
        self.hw = hw
        self.clock = hw.clock
        self.fs = getattr(hw, "fs", None) or fsutil.FS
        self.detail = ("config: " + "; ".join(errors))[:DETAIL_MAX]
        hw.outputs_off()
        self.mqtt: Any = None
        mqtt = cfg.get("mqtt")
        site: Any = cfg.get("site")
        device: Any = cfg.get("device")
        if isinstance(mqtt, dict) and mqtt.get("host"):
            try:
                wire.check_name("site", site)
                wire.check_name("device", device)
            except wire.ProtocolError:
                return
            self.fs.makedirs(hw.storage_root)
            self.commands: Any = None
            try:
                key = downlink.key_from_hex(cfg.get("downlink_key"))
                self.commands = CommandGate(hw.storage_root, key, self.fs)
            except ValueError:
                pass
            self.outbox = Outbox(hw.storage_root, 64, self.fs)
            self.stamper = Stamper(self.clock, 0)
            self.mqtt = MqttClient(hw.link, self.clock, mqtt, self.outbox, site, device, hw.rand)
            self.mqtt.on_message = self.on_message

    def report(self) -> None:
        self.send("fault", {"reason": "config", "detail": self.detail})

    def send(self, kind: str, fields: dict) -> None:
        if self.mqtt is None:
            return
        seq, ts, tq = self.stamper.next("event")
        self.outbox.append("event", wire.encode("event", wire.event(seq, ts, kind, fields, tq)))
        self.mqtt.notify()

    def on_message(self, topic: str, payload) -> None:
        try:
            if wire.parse_topic(topic)[2] != "cmd":
                return
            if self.commands is None:
                self.send("refused", {"reason": "cmd_no_key",
                                      "detail": "no usable downlink_key: fix the config over USB"})
                return
            msg = self.commands.open(payload)
            if msg["op"] == "config":
                text = json.dumps(msg.get("args", {}).get("config"))
                _, errors = config.parse(text)
                if not errors:
                    self.fs.write_atomic(self.hw.config_path, text.encode())
                    self.hw.reset()
                    return
                self.detail = ("config rejected: " + "; ".join(errors))[:DETAIL_MAX]
                self.report()
            elif msg["op"] == "reboot":
                self.hw.reset()
        except downlink.Refused as exc:
            self.send("refused", {"reason": "cmd_" + exc.code, "detail": exc.detail[:DETAIL_MAX]})
        except (wire.ProtocolError, ValueError, KeyError, TypeError):
            pass

    async def report_loop(self) -> None:
        while True:
            self.report()
            await self.clock.sleep_ms(300000)

    async def watchdog_loop(self) -> None:
        while True:
            self.hw.watchdog.feed()
            await self.clock.sleep_ms(5000)

    async def run(self) -> None:
        print("SAFE MODE:", self.detail)
        tasks = [self.watchdog_loop()]
        if self.mqtt is not None:
            tasks += [self.mqtt.run(), self.hw.link.keep_up(), self.report_loop()]
        await asyncio.gather(*tasks)
