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
    # TLS (the site broker's port 8883): the broker's certificate must chain to
    # the CA in this file (the site CA; empty: the system's CAs) and name
    # mqtt_tls_server_name (empty: mqtt_host).
    mqtt_tls: bool = False
    mqtt_tls_ca_file: str = ""
    mqtt_tls_server_name: str = ""
