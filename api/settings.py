"""All configuration of the api in one place, read from API_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker import MqttSettings
from protocol.badge import NEW_KEY_COMMAND, key_error, parse_key
from timeseries import InfluxSettings
from timeseries.settings import Seconds

PLACEHOLDER = "changethis"
# Lets a development api start without a .env; published, so refused in production.
DEV_BADGE_KEY = "00112233445566778899aabbccddeeff"
_PLACEHOLDERS = {PLACEHOLDER, "", "secret", "changeme", "change-me"}


class Settings(MqttSettings, InfluxSettings, BaseSettings):
    """The broker's (mqtt_*) and InfluxDB's (influx_*) connection fields come from
    broker.MqttSettings and timeseries.InfluxSettings."""

    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///workshop.db"
    # Signs access tokens; a placeholder is refused outside development.
    secret_key: str = PLACEHOLDER
    # HMAC key of badge hashes, hex (protocol.badge.parse_key): the same key is in
    # every machine node's config. Empty: DEV_BADGE_KEY in development, refused in
    # production.
    badge_hash_key: str = ""
    token_minutes: int = 12 * 60
    site: str = Field(default="main", pattern=r"^[a-z0-9_-]{1,32}$")
    # Tariff band hours and lease days are read in this zone (IANA name).
    site_timezone: str = "UTC"

    mqtt_username: str = "api"
    mqtt_timeout_s: float = 5.0

    # How often expired trainings and failed publishes are caught up.
    acl_sweep_s: float = 60.0
    # How often settled counter slots are copied from InfluxDB (0: only when splitting).
    counter_refresh_s: float = 3600.0

    # A split reads a year of counters.
    influx_timeout_s: Seconds = 60.0

    # What a node's config.json gets (`node-config`, POST /devices/{id}/config): the
    # broker as the NODES reach it, which may differ from mqtt_host above (the api's
    # own way in, e.g. a compose service name). An IP address on the site network:
    # MicroPython resolves host names with a blocking call.
    node_mqtt_host: str = ""
    node_mqtt_port: int = Field(default=1883, ge=1, le=65535)
    # The site's Wi-Fi for the nodes; empty: left for the installer to fill in.
    node_wifi_ssid: str = Field(default="", max_length=32)
    node_wifi_password: SecretStr = SecretStr("")

    host: str = "127.0.0.1"
    port: int = 8000

    @field_validator("site_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Self:
        if self.environment != "development" and self.secret_key in _PLACEHOLDERS:
            raise ValueError("API_SECRET_KEY is a placeholder; set a real secret in production")
        return self

    @model_validator(mode="after")
    def _check_badge_key(self) -> Self:
        """The key in the one format the nodes read (protocol.badge), in every
        environment: a key the nodes decode differently locks every badge out."""
        how = (
            f"put one in .env: API_BADGE_HASH_KEY=<the output of {NEW_KEY_COMMAND}> "
            "(the same key goes into every machine node's config: "
            "`python -m api.cli node-config` writes it there)"
        )
        if not self.badge_hash_key:
            if self.environment == "development":
                self.badge_hash_key = DEV_BADGE_KEY
                return self
            raise ValueError(f"API_BADGE_HASH_KEY is not set; {how}")
        problem = key_error(self.badge_hash_key)
        if problem:
            raise ValueError(f"API_BADGE_HASH_KEY: {problem}; {how}")
        if self.environment != "development" and self.badge_hash_key.lower() == DEV_BADGE_KEY:
            raise ValueError(f"API_BADGE_HASH_KEY is the published development key; {how}")
        return self

    @property
    def badge_key(self) -> bytes:
        """The HMAC key of badge hashes, as the nodes read it."""
        return parse_key(self.badge_hash_key)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_problem(exc: ValidationError) -> str:
    """A refused setting as one line for a person: the variable and the rule."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"API_{where.upper()}: {message}" if where else message)
    return "; ".join(parts)
