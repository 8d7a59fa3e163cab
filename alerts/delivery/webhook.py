"""Webhook: one JSON body that ntfy (JSON publishing to the server's root URL:
topic, title, message, priority, tags), Slack-compatible receivers and Matrix
hooks (`text`) all accept; `alert` carries the fields for anything else."""

from __future__ import annotations

from typing import Any

import httpx

from alerts.delivery.message import Message


class WebhookChannel:
    def __init__(
        self, name: str, url: str, ntfy_topic: str = "", timeout: float = 10.0
    ) -> None:
        self.name = name
        self.url = url
        self.ntfy_topic = ntfy_topic
        self.timeout = timeout
        # One client per channel: a new one per send would rebuild the TLS context.
        self._client = httpx.Client(timeout=timeout)

    def body(self, message: Message) -> dict[str, Any]:
        critical = message.severity == "critical" and message.event == "fired"
        body: dict[str, Any] = {
            "text": f"{message.title}\n{message.text}",
            "title": message.title,
            "message": message.text,
            "priority": 5 if critical else 3,
            "tags": ["white_check_mark" if message.event == "resolved" else "rotating_light"],
            "alert": message.alert,
        }
        if self.ntfy_topic:
            body["topic"] = self.ntfy_topic
        return body

    def send(self, message: Message) -> None:
        response = self._client.post(self.url, json=self.body(message))
        if response.status_code >= 300:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:200]}")

    def close(self) -> None:
        self._client.close()
