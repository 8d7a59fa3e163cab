"""All configuration of the api in one place, read from API_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker import MqttSettings
from timeseries import InfluxSettings
from timeseries.settings import Seconds

PLACEHOLDER = "changethis"
_PLACEHOLDERS = {PLACEHOLDER, "", "secret", "changeme", "change-me"}


class Settings(MqttSettings, InfluxSettings, BaseSettings):
    """The broker's (mqtt_*) and InfluxDB's (influx_*) connection fields come from
    broker.MqttSettings and timeseries.InfluxSettings."""

    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///workshop.db"
    # Signs access tokens; a placeholder is refused outside development.
    secret_key: str = PLACEHOLDER
    # HMAC key of badge hashes: the same key is set on every node's config.
    badge_hash_key: str = PLACEHOLDER
    # Master secret of the nodes' downlink keys: each node's key, derived from
    # it and the node's name, signs its ACLs and commands (api/services/downlink.py).
    downlink_key: str = PLACEHOLDER
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
        if self.environment != "development":
            for name in ("secret_key", "badge_hash_key", "downlink_key"):
                if getattr(self, name) in _PLACEHOLDERS:
                    raise ValueError(
                        f"API_{name.upper()} is a placeholder; set a real secret in production"
                    )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
