"""Real local receivers for the delivery tests: an HTTP server, an SMTP server
(aiosmtpd) and an MQTT subscriber on the real broker, each recording what
arrived and when (time.monotonic)."""

from __future__ import annotations

import json
import socket
import threading
import time
from email import message_from_bytes
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import paho.mqtt.client as mqtt
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devservers import free_port


class WebhookReceiver:
    """POSTs land in `received` as (monotonic time, path, JSON body)."""

    def __init__(self, status: int = 200) -> None:
        self.received: list[tuple[float, str, dict[str, Any]]] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                outer.received.append((time.monotonic(), self.path, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class HangingServer:
    """Accepts TCP connections and never answers: the worst kind of dead receiver."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def __enter__(self) -> HangingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


class SmtpReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.received: list[tuple[float, EmailMessage]] = []
        outer = self

        class Handler:
            async def handle_DATA(
                self, server: SMTP, session: Session, envelope: Envelope
            ) -> str:
                content = envelope.content
                assert isinstance(content, bytes)
                outer.received.append((time.monotonic(), message_from_bytes(content)))
                return "250 OK"

        self.port = free_port()
        self.host = host
        self.controller = Controller(Handler(), hostname=host, port=self.port)

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class MqttReceiver:
    """A persistent session (QoS 1): the broker keeps what arrives while the
    receiver itself is reconnecting, as it would for a real subscriber."""

    def __init__(self, host: str, port: int, user: str, password: str, topic: str,
                 ca_file: str | None = None) -> None:
        """`ca_file`: over TLS, trusting that CA (the site's)."""
        self.received: list[tuple[float, str, dict[str, Any]]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alert-receiver",
                                  clean_session=False)
        self.client.username_pw_set(user, password)
        if ca_file is not None:
            self.client.tls_set(ca_certs=ca_file)
        self.subscribed = subscribed = threading.Event()

        def on_connect(c: mqtt.Client, u: Any, f: Any, r: Any, p: Any) -> None:
            subscribed.clear()
            c.subscribe(topic, qos=1)

        self.client.on_connect = on_connect
        self.client.on_disconnect = lambda c, u, f, r, p: subscribed.clear()
        self.client.on_subscribe = lambda c, u, m, r, p: subscribed.set()
        self.client.reconnect_delay_set(1, 2)
        self.client.on_message = lambda c, u, msg: self.received.append(
            (time.monotonic(), msg.topic, json.loads(msg.payload))
        )
        self.client.connect(host, port)
        self.client.loop_start()
        assert subscribed.wait(10), "MQTT subscription not acknowledged"

    def __enter__(self) -> MqttReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.loop_stop()
        self.client.disconnect()
