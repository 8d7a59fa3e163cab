"""The gateway's MQTT session on a real broker: TCP_NODELAY, and a message
that was not acknowledged comes back after a reconnect, one that was does not."""

from __future__ import annotations

import socket
import threading
import time

from devservers import Mosquitto
from gateway.mqtt_session import BufferedSocket, MqttSession
from gateway.settings import Settings
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER
from tests.gateway.conftest import publish_all, wait_until


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str | None, bytes, int, int]] = []
        self.subscribed = threading.Event()

    def on_message(self, topic: str | None, payload: bytes, mid: int, qos: int) -> None:
        self.messages.append((topic, payload, mid, qos))

    def on_subscribed(self, ok: bool) -> None:
        if ok:
            self.subscribed.set()


def open_session(mosquitto: Mosquitto) -> tuple[MqttSession, Inbox]:
    settings = Settings(
        mqtt_host=mosquitto.host, mqtt_port=mosquitto.port, mqtt_username=GATEWAY_USER,
        mqtt_password=GATEWAY_PASSWORD,  # type: ignore[arg-type]
        mqtt_client_id="session-under-test",
    )
    inbox = Inbox()
    session = MqttSession(settings, inbox.on_message, inbox.on_subscribed)
    session.start()
    assert inbox.subscribed.wait(10)
    return session, inbox


def redelivered(mosquitto: Mosquitto) -> list[tuple[str | None, bytes, int, int]]:
    """What the broker still holds for the session: it hands it over on reconnect."""
    session, inbox = open_session(mosquitto)
    time.sleep(1)
    session.stop()
    return inbox.messages


def test_socket_is_buffered_and_has_tcp_nodelay(mosquitto: Mosquitto) -> None:
    session, _ = open_session(mosquitto)
    try:
        sock = session.client.socket()
        assert isinstance(sock, BufferedSocket) and isinstance(sock.raw, socket.socket)
        assert sock.raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        session.stop()


def test_buffered_socket_hands_out_what_was_sent_in_any_slices() -> None:
    left, right = socket.socketpair()
    buffered = BufferedSocket(left)
    right.sendall(b"\x30\x05hello\x40\x02")
    assert buffered.recv(1) == b"\x30"
    assert buffered.pending() == 8  # the rest came with the first syscall
    assert buffered.recv(1) == b"\x05"
    assert buffered.recv(5) == b"hello"
    assert buffered.recv(100) == b"\x40\x02"
    assert buffered.pending() == 0
    right.close()
    assert buffered.recv(1) == b""  # end of stream, as from a plain socket
    buffered.close()


def test_only_acknowledged_messages_leave_the_broker(mosquitto: Mosquitto) -> None:
    session, inbox = open_session(mosquitto)
    publish_all(mosquitto, [("mf/lab/node1/telemetry", b"first"),
                            ("mf/lab/node1/telemetry", b"second")])
    wait_until(lambda: len(inbox.messages) == 2, 10, "two messages")
    first = inbox.messages[0]
    session.ack(first[2], first[3])  # "second" stays unacknowledged
    time.sleep(0.3)
    session.stop()

    session, inbox = open_session(mosquitto)
    try:
        wait_until(lambda: len(inbox.messages) >= 1, 10, "the redelivery")
        time.sleep(0.5)
        assert [m[1] for m in inbox.messages] == [b"second"]
        session.ack(inbox.messages[0][2], 1)
        time.sleep(0.3)
    finally:
        session.stop()
    assert redelivered(mosquitto) == []


def test_publishes_take_the_lean_path_and_acks_go_in_one_write(mosquitto: Mosquitto) -> None:
    """The fast path is in use, not just present: no PUBLISH reaches paho's own
    message objects, and ack_all's one queued write acknowledges them all (none
    comes back after a reconnect)."""
    session, inbox = open_session(mosquitto)
    slow: list[object] = []
    paho_path = session.client.on_message

    def counted(client: object, userdata: object, message: object) -> None:
        slow.append(message)
        paho_path(client, userdata, message)

    session.client.on_message = counted
    try:
        sent = publish_all(mosquitto, ((f"mf/lab/node{n % 3}/telemetry", b"%d" % n)
                                       for n in range(50)))
        wait_until(lambda: len(inbox.messages) == sent, 10, "every message")
        assert slow == [], "paho's own _handle_publish ran: the override is not called"
        assert [m[1] for m in inbox.messages] == [b"%d" % n for n in range(50)]
        session.ack_all([(mid, qos) for _, _, mid, qos in inbox.messages])
        time.sleep(0.3)
    finally:
        session.stop()
    assert redelivered(mosquitto) == []
