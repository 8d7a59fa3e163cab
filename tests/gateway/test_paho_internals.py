"""The paho-mqtt internals the gateway's fast path (gateway/mqtt_session.py)
overrides or calls. pyproject.toml pins paho to the minor version this was
tested with; when a new one changes any of them, this test fails by name,
instead of the gateway quietly reading unbuffered or falling back to paho's
slower path."""

from __future__ import annotations

import inspect

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

Client = mqtt.Client


@pytest.mark.parametrize(("name", "parameters"), [
    ("_create_socket", ["self"]),  # BufferedClient wraps the socket it returns
    ("_handle_publish", ["self"]),  # BufferedClient's lean PUBLISH path
    ("_packet_queue", ["self", "command", "packet", "mid", "qos", "info"]),  # ack_all
    ("_send_puback", ["self", "mid"]),
    ("loop_read", ["self", "max_packets"]),  # the read burst
    ("socket", ["self"]),
])
def test_the_methods_the_fast_path_uses_keep_their_signature(
    name: str, parameters: list[str]
) -> None:
    method = getattr(Client, name, None)
    assert method is not None, f"paho-mqtt's Client.{name} is gone"
    found = list(inspect.signature(method).parameters)
    assert found == parameters, f"paho-mqtt's Client.{name} now takes {found}"


def test_the_attributes_the_fast_path_reads_exist() -> None:
    client = Client(CallbackAPIVersion.VERSION2, manual_ack=True)
    for name in ("_in_packet", "_protocol", "_in_callback_mutex", "_manual_ack"):
        assert hasattr(client, name), f"paho-mqtt's Client.{name} is gone"
    assert {"command", "packet"} <= set(client._in_packet), client._in_packet.keys()
    assert client._manual_ack is True


@pytest.mark.parametrize(("caller", "call"), [
    ("reconnect", "self._create_socket()"),  # else the socket is not buffered
    ("_packet_handle", "self._handle_publish()"),  # else PUBLISH takes paho's path
    ("_loop", ".pending()"),  # else buffered bytes wait for select()
])
def test_paho_still_calls_the_seams(caller: str, call: str) -> None:
    source = inspect.getsource(getattr(Client, caller))
    assert call in source, f"paho-mqtt's Client.{caller} no longer calls {call}"
