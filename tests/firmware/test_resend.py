"""A record the node sent unstamped (tq=0: no NTP yet) whose PUBACK was lost
is resent byte for byte, even when the clock has been set in between: a
restamped copy (tq=1, another ts) would be stored as a second point (the
gateway places tq=0 at its receive time). Found by the workshop week in CI:
a `fault` event stored twice with one seq.

The firmware's own MQTT client and outbox against a real Mosquitto, through a
proxy that loses the broker's first PUBACK and drops the connection, as a
LAN does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from devservers import Mosquitto
from firmware.net import mqtt_codec as codec
from firmware.net.mqtt_client import MqttClient
from firmware.store.outbox import Outbox
from protocol import wire
from tests.conftest import DEVICE_PASSWORD, TEST_PASSWORD, TEST_USER

BOOT_TAG = 7
SITE, DEVICE = "ws1", "node1"


class Clock:
    def now_ms(self) -> int:
        return int(time.monotonic() * 1000)

    async def sleep_ms(self, ms: int) -> None:
        await asyncio.sleep(ms / 1000)


class Link:
    def __init__(self, port: int) -> None:
        self.port = port

    def isconnected(self) -> bool:
        return True

    async def open_connection(self, host: str, port: int) -> Any:
        return await asyncio.open_connection(host, self.port)


class LosesFirstPuback:
    """Forwards both ways; the first time the broker acknowledges a PUBLISH,
    that answer is swallowed and both connections are closed."""

    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.lost = 0
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.broker_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, down: bool) -> None:
            parser = codec.Parser()
            with contextlib.suppress(OSError):
                while data := await src.read(4096):
                    if down and not self.lost:
                        parser.feed(data)
                        while (packet := parser.next()) is not None:
                            if packet[0] == codec.PUBACK:
                                self.lost += 1
                                for w in (writer, up_writer):
                                    w.close()
                                return
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer, False), pipe(up_reader, writer, True))

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


def test_an_unstamped_record_is_resent_as_it_was_sent(tmp_path: Path,
                                                       mosquitto: Mosquitto) -> None:
    received: list[bytes] = []
    observer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="observer")
    observer.username_pw_set(TEST_USER, TEST_PASSWORD)
    observer.on_message = lambda c, u, m: received.append(bytes(m.payload))
    observer.connect(mosquitto.host, mosquitto.port)
    observer.subscribe(wire.topic(SITE, DEVICE, "event"), qos=1)
    observer.loop_start()
    time.sleep(0.5)

    trusted = {"now": False}

    def restamp(channel: str, payload: Any, tag: int) -> Any:
        # app.Node.restamp's contract: as it is while the clock is not trusted
        # (the wait for NTP is over), with its true time once it is.
        if tag != BOOT_TAG or not trusted["now"]:
            return payload
        msg = json.loads(bytes(payload))
        msg["ts"] += 3_000
        msg["tq"] = 1
        return wire.encode(channel, msg)

    async def scenario() -> tuple[int, int]:
        proxy = LosesFirstPuback(mosquitto.port)
        port = await proxy.start()
        outbox = Outbox(str(tmp_path / "flash"))
        client = MqttClient(Link(port), Clock(), {
            "host": "127.0.0.1", "user": DEVICE, "password": DEVICE_PASSWORD,
            "backoff_first_ms": 200, "backoff_max_ms": 400, "timeout_s": 5,
        }, outbox, SITE, DEVICE, lambda: 0.5)
        client.restamp = restamp
        fault = wire.event(1, int(time.time() * 1000) - 60_000, "fault",
                           {"reason": "reader", "detail": "asleep"}, tq=0)
        outbox.append("event", wire.encode("event", fault), BOOT_TAG)
        task = asyncio.create_task(client.run())
        deadline = time.monotonic() + 20
        while not proxy.lost:
            assert time.monotonic() < deadline, "the record never reached the broker"
            await asyncio.sleep(0.01)
        trusted["now"] = True  # NTP answered while the node reconnects
        while outbox.pending():
            assert time.monotonic() < deadline, "the record was never acknowledged"
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        proxy.close()
        return proxy.lost, client.sessions

    try:
        lost, sessions = asyncio.run(scenario())
        deadline = time.monotonic() + 5
        while len(received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        observer.loop_stop()
        observer.disconnect()
    assert lost == 1 and sessions == 2
    assert len(received) == 2, received  # the broker delivered it twice (QoS 1)
    first, again = (wire.decode("event", payload) for payload in received)
    assert first["tq"] == 0
    assert again == first, (first, again)
