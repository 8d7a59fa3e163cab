"""The broker connection fields. The gateway's, the api's and the alerts'
Settings inherit them, so each reads them from its own environment
(GATEWAY_MQTT_HOST, API_MQTT_HOST, ALERTS_MQTT_HOST, ...)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr


class MqttSettings(BaseModel):
    mqtt_host: str = "127.0.0.1"
    mqtt_port: Annotated[int, Field(ge=1, le=65535)] = 1883
    mqtt_username: str = ""
    mqtt_password: SecretStr = SecretStr("")
