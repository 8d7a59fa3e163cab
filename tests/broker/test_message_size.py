"""The broker's message size limit (protocol.wire.MAX_MESSAGE, shipped in
deploy/mosquitto/mosquitto.conf) on a real Mosquitto: the largest legal
message, an ACL of MAX_ACL_BADGES badges, passes; one byte more does not
reach any subscriber, nor does a device's oversized telemetry."""

from __future__ import annotations

import binascii
import threading

import paho.mqtt.client as mqtt
import pytest

from devservers import Mosquitto
from protocol import downlink, sign, wire
from tests.conftest import API_PASSWORD, API_USER, DEVICE_PASSWORD
from tests.gateway.conftest import connect, wait_until

ACL_TOPIC = wire.topic("lab", "node1", "acl")
TELEMETRY_TOPIC = wire.topic("lab", "node1", "telemetry")


KEY = bytes(range(downlink.KEY_BYTES))


def largest_acl() -> bytes:
    """The most badges, the largest version, signed (the MAC member is part of it)."""
    hashes = [f"{n:016x}" for n in range(wire.MAX_ACL_BADGES)]
    return sign.seal("acl", KEY, wire.acl(wire.INT_MAX, hashes[1:], hashes[:1]))


def signed_with_padding(payload: bytes, size: int) -> bytes:
    """`payload` padded with JSON whitespace inside the signed part, signed
    again: `size` bytes that a node still takes (MAC and all)."""
    head = payload[: len(payload) - downlink.SUFFIX_BYTES]
    head += b" " * (size - len(payload))
    mac = binascii.hexlify(downlink.mac_of(KEY, "acl", head))
    return head + downlink.OPEN + mac + downlink.CLOSE


def test_the_largest_legal_acl_passes_and_one_byte_more_is_dropped(mosquitto: Mosquitto) -> None:
    largest = largest_acl()
    assert len(largest) <= wire.MAX_MESSAGE
    at_limit = signed_with_padding(largest, wire.MAX_MESSAGE)
    assert len(at_limit) == wire.MAX_MESSAGE
    downlink.check("acl", KEY, at_limit)
    assert len(wire.decode("acl", at_limit)["allow"]) == wire.MAX_ACL_BADGES - 1
    over = signed_with_padding(largest, wire.MAX_MESSAGE + 1)
    downlink.check("acl", KEY, over)
    with pytest.raises(wire.ProtocolError, match="too_large"):
        wire.decode("acl", over)

    received: list[bytes] = []
    lock = threading.Lock()

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            received.append(message.payload)

    watcher = connect(mosquitto, client_id="size-watcher")
    watcher.on_message = on_message
    watcher.subscribe("mf/#", qos=1)
    api = connect(mosquitto, client_id="size-api", user=API_USER, password=API_PASSWORD)
    device = connect(mosquitto, client_id="node1", user="node1", password=DEVICE_PASSWORD)
    try:
        wait_until(lambda: watcher.is_connected() and api.is_connected(), 5, "the clients")
        for payload in (largest, at_limit, over):
            api.publish(ACL_TOPIC, payload, qos=1).wait_for_publish(10)
        device.publish(TELEMETRY_TOPIC, b'{"v": 1, "pad": "' + b"x" * 50_000 + b'"}',
                       qos=1).wait_for_publish(10)
        # Every publish above was acknowledged, so settled: the marker comes after.
        watcher.publish(ACL_TOPIC, b"marker", qos=1).wait_for_publish(10)
        wait_until(lambda: b"marker" in received, 10, "the marker")
    finally:
        for client in (watcher, api, device):
            client.disconnect()
            client.loop_stop()
    with lock:
        assert received == [largest, at_limit, b"marker"]
