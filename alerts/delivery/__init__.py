"""Notification channels (webhook, e-mail, MQTT) and the dispatcher that retries
each one on its own, so that a failing channel never holds up another."""

from alerts.delivery.dispatcher import Dispatcher, RetryPolicy
from alerts.delivery.message import Message, render
from alerts.delivery.mqtt import MqttChannel
from alerts.delivery.smtp import EmailChannel
from alerts.delivery.webhook import WebhookChannel

__all__ = [
    "Dispatcher", "EmailChannel", "Message", "MqttChannel", "RetryPolicy", "WebhookChannel",
    "render",
]
