"""Commands to Mosquitto's dynamic-security plugin: published on
`$CONTROL/dynamic-security/v1`, answered on its `/response` topic, one answer
per command in the same order. The login must hold the plugin's admin role
(broker.accounts gives it to the api)."""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import threading
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from broker.accounts import CONTROL_TOPIC, RESPONSE_TOPIC
from broker.client import Connection
from broker.settings import MqttSettings


class ControlError(RuntimeError):
    """The broker is unreachable, refused the login or the control topic,
    did not answer in time, or refused a command."""


class DynsecControl(Connection):
    """One connection, made on first use and remade when lost; one request at
    a time. Answers are matched by correlation data, so other admins' answers
    on the shared response topic are ignored."""

    def __init__(self, settings: MqttSettings, timeout_s: float = 5.0) -> None:
        super().__init__(settings, timeout_s, mqtt.MQTTv5)
        self._answers: queue.Queue[Any] = queue.Queue()
        self._ready = threading.Event()  # connected and subscribed to the answers
        self._answered = threading.Event()  # the broker said yes or no
        self._refused = ""
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = lambda *_: self._ready.clear()
        self._client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, _u: object, _f: object, reason: ReasonCode,
                    _p: object) -> None:
        if reason.is_failure:
            self._refused = f"broker refused the login: {reason}"
            self._answered.set()
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)

    def _on_subscribe(self, _c: mqtt.Client, _u: object, _m: object,
                      reasons: list[ReasonCode], _p: object) -> None:
        if any(r.is_failure for r in reasons):
            self._refused = f"broker refused the subscription to {RESPONSE_TOPIC} (no admin role?)"
        else:
            self._refused = ""
            self._ready.set()
        self._answered.set()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        with contextlib.suppress(ValueError, KeyError, TypeError):  # not the plugin's
            self._answers.put(json.loads(message.payload)["responses"])

    def _connect(self) -> None:
        if self._ready.is_set():
            return
        self._answered.clear()
        try:
            self._open()
        except OSError as exc:
            raise ControlError(f"broker {self.host}:{self.port} unreachable: {exc}") from exc
        if not self._ready.is_set() and not (self._answered.wait(self.timeout_s)
                                             and self._ready.is_set()):
            raise ControlError(self._refused or
                               f"broker {self.host}:{self.port} did not accept the connection")

    def run(self, commands: Sequence[Mapping[str, Any]],
            tolerate: Collection[str] = ()) -> list[dict[str, Any]]:
        """Send `commands` as one request; returns the answers in order. An
        answer with an error not in `tolerate` raises ControlError."""
        token = secrets.token_hex(8)
        tagged = [{**command, "correlationData": f"{token}:{n}"}
                  for n, command in enumerate(commands)]
        with self._lock:
            self._connect()
            self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
            answers = self._await(token, len(tagged))
        for command, answer in zip(tagged, answers, strict=True):
            error = answer.get("error")
            if error and error not in tolerate:
                raise ControlError(f"broker refused {command['command']}: {error}")
        return answers

    def _await(self, token: str, count: int) -> list[dict[str, Any]]:
        while True:
            try:
                answers = self._answers.get(timeout=self.timeout_s)
            except queue.Empty:
                raise ControlError(f"no answer from the broker's dynamic-security plugin within "
                                   f"{self.timeout_s} s") from None
            if (isinstance(answers, list) and len(answers) == count and all(
                    isinstance(a, dict) and str(a.get("correlationData", "")).startswith(token)
                    for a in answers)):
                return answers

    def close(self) -> None:
        super().close()
        self._ready.clear()
