"""The simulator's count of unanswered MQTT requests per link, which decides
when the fast clock may jump: fed the firmware codec's own packets, split
across writes as a socket may split them."""

from __future__ import annotations

from firmware.net import mqtt_codec as codec
from simulator.virtual import Exchange


def _reply(kind: int, body: bytes = b"\x00\x01") -> bytes:
    return bytes((kind << 4, len(body))) + body


def test_requests_open_and_answers_close() -> None:
    ex = Exchange()
    ex.sent(codec.connect("node1", "node1", "pw"))
    assert ex.open == 1
    ex.received(_reply(codec.CONNACK, b"\x00\x00"))
    assert ex.open == 0
    # QoS 1 publish and a subscribe in one write; a QoS 0 publish and a
    # PUBACK (for a message the broker sent) expect nothing back.
    ex.sent(codec.publish("mf/s/node1/telemetry", b"{}", qos=1, pid=7)
            + codec.subscribe(8, [("mf/s/node1/acl", 1)]))
    ex.sent(codec.publish("mf/s/node1/x", b"{}", qos=0) + codec.puback(3))
    assert ex.open == 2
    ex.sent(codec.pingreq())
    assert ex.open == 3
    answers = _reply(codec.PUBACK) + bytes((codec.SUBACK << 4 | 0, 3, 0, 8, 1)) + _reply(
        codec.PINGRESP, b"")
    for i in range(len(answers)):  # a byte at a time: only whole packets count
        ex.received(answers[i:i + 1])
    assert ex.open == 0


def test_a_publish_split_between_header_and_payload_counts_once() -> None:
    ex = Exchange()
    ex.sent(codec.publish_header("mf/s/node1/telemetry", 40, qos=1, pid=9))
    assert ex.open == 0  # the payload is not there yet
    ex.sent(bytes(40))
    assert ex.open == 1
    # A message from the broker (the retained ACL) answers nothing.
    ex.received(codec.publish("mf/s/node1/acl", b"{}", qos=1, pid=2))
    assert ex.open == 1
