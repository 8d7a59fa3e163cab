"""Puts the connection settings on a paho client: the one place where a
service's login to the broker and its TLS are set up; and the connection the
api's publisher and its broker-admin client share."""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from broker.settings import MqttSettings


class _NamedContext(ssl.SSLContext):
    """Checks the broker's certificate for a fixed name, whatever host paho
    connected to (an IP address the certificate does not list, say)."""

    server_name = ""

    def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> ssl.SSLSocket:  # type: ignore[override]
        kwargs["server_hostname"] = self.server_name
        return super().wrap_socket(sock, *args, **kwargs)


def tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """A client context that accepts only a broker whose certificate chains to
    mqtt_tls_ca_file and names the broker; TLS 1.2 at least. ValueError naming
    the setting when the CA file cannot be read."""
    context: ssl.SSLContext
    if settings.mqtt_tls_server_name:
        named = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
        named.server_name = settings.mqtt_tls_server_name
        context = named
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.mqtt_tls_ca_file:
        try:
            context.load_verify_locations(cafile=settings.mqtt_tls_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(f"mqtt_tls_ca_file {settings.mqtt_tls_ca_file!r} holds no CA "
                             f"certificate that can be read: {exc}") from None
    else:
        context.load_default_certs()
    return context


PEM_CERTIFICATE = "-----BEGIN CERTIFICATE-----"


def node_tls(settings: MqttSettings) -> dict[str, Any]:
    """The `mqtt` fields a node's config needs to reach the broker the way
    this service does: TLS pinned to the same CA (the node has no bundle of
    public CAs), or nothing when this service connects without TLS.
    ValueError naming the setting when the CA cannot be handed on."""
    if not settings.mqtt_tls:
        return {}
    if not settings.mqtt_tls_ca_file:
        raise ValueError("mqtt_tls_ca_file is empty: a node can only be pinned to a CA file")
    try:
        text = Path(settings.mqtt_tls_ca_file).read_bytes().decode("ascii", "replace")
    except OSError as exc:
        raise ValueError(f"mqtt_tls_ca_file {settings.mqtt_tls_ca_file!r}: {exc}") from None
    if not text.lstrip().startswith(PEM_CERTIFICATE):
        raise ValueError(f"mqtt_tls_ca_file {settings.mqtt_tls_ca_file!r} is not a PEM "
                         "certificate")
    return {"tls": True, "ca": text}


def configure(client: mqtt.Client, settings: MqttSettings) -> None:
    if settings.mqtt_username:
        # No password at all rather than an empty one: MQTT allows a user alone.
        password = settings.mqtt_password.get_secret_value() or None
        client.username_pw_set(settings.mqtt_username, password)
    if settings.mqtt_tls:
        client.tls_set_context(tls_context(settings))


class Connection:
    """One service login's paho client, connected on first use; after that
    paho's loop keeps it connected. Subclasses say what travels over it."""

    def __init__(self, settings: MqttSettings, timeout_s: float,
                 protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv311) -> None:
        self.host, self.port, self.timeout_s = settings.mqtt_host, settings.mqtt_port, timeout_s
        self._lock = threading.Lock()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="",
                                   protocol=protocol)
        configure(self._client, settings)
        self._started = False

    def _open(self) -> None:
        """Connect and start paho's loop, once; OSError when nothing answers
        (ssl.SSLError, an OSError, when the broker's certificate is refused)."""
        if not self._started:
            self._client.connect(self.host, self.port, keepalive=30)
            self._client.loop_start()
            self._started = True

    def close(self) -> None:
        with self._lock:
            if self._started:
                self._client.disconnect()
                self._client.loop_stop()
                self._started = False
