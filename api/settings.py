"""All configuration of the api in one place, read from API_* environment variables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker import MqttSettings
from protocol.badge import NEW_KEY_COMMAND, key_error, parse_key
from timeseries import InfluxSettings
from timeseries.settings import Seconds

PLACEHOLDER = "changethis"
# Refused in production when weak: the api's secrets in free form, and what a
# placeholder looks like. The badge key has a format of its own (protocol.badge).
SECRETS = ("secret_key", "downlink_key", "mqtt_password", "influx_password")
MIN_SECRET_CHARS = 16
# What placeholders look like, in lower-case letters only ("Change_Me!" is "changeme").
_PLACEHOLDER_PARTS = ("changeme", "changethis", "replaceme", "placeholder", "example", "yoursecret")
_PLACEHOLDER_WORDS = {"secret", "password", "admin", "test", "default", "none", "null"}
# Lets a development api start without a .env; published, so refused in production.
DEV_BADGE_KEY = "00112233445566778899aabbccddeeff"


class Settings(MqttSettings, InfluxSettings, BaseSettings):
    """The broker's (mqtt_*) and InfluxDB's (influx_*) connection fields come from
    broker.MqttSettings and timeseries.InfluxSettings."""

    # hide_input_in_errors: a refused start must not print the secrets it was given.
    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite:///workshop.db"
    # Signs access tokens; a placeholder is refused outside development.
    secret_key: str = PLACEHOLDER
    # HMAC key of badge hashes, hex (protocol.badge.parse_key): the same key is in
    # every machine node's config. Empty: DEV_BADGE_KEY in development, refused in
    # production.
    badge_hash_key: str = ""
    # Master secret of the nodes' downlink keys: each node's key, derived from
    # it and the node's name, signs its ACLs and commands (api/services/downlink.py).
    downlink_key: str = PLACEHOLDER
    token_minutes: int = 12 * 60
    site: str = Field(default="main", pattern=r"^[a-z0-9_-]{1,32}$")
    # Tariff band hours and lease days are read in this zone (IANA name).
    site_timezone: str = "UTC"

    mqtt_username: str = "api"
    mqtt_timeout_s: float = 5.0
    # Who gives each device its broker login: the api itself, through the
    # broker's dynamic-security plugin (the shipped broker), or the admin by
    # hand from `export-passwd` (a broker with a password file).
    device_logins: Literal["dynsec", "manual"] = "dynsec"

    # How often expired trainings and failed publishes are caught up.
    acl_sweep_s: float = 60.0
    # How often settled counter slots are copied from InfluxDB (0: only when splitting).
    counter_refresh_s: float = 3600.0

    # A split reads a year of counters.
    influx_timeout_s: Seconds = 60.0
    # Raw readings are kept this many days (0: forever); rollups keep the rest
    # (timeseries/rollup.py). How often the rollups are brought up to date (0: never).
    influx_raw_days: int = Field(default=90, ge=0)
    rollup_s: float = 300.0

    # The alert thresholds file (same as ALERTS_RULES_FILE): zone setpoints, silence.
    alerts_rules_file: Path | None = None

    # What a node's config.json gets (`node-config`, POST /devices/{id}/config): the
    # broker as the NODES reach it, which may differ from mqtt_host above (the api's
    # own way in, e.g. a compose service name). An IP address on the site network:
    # MicroPython resolves host names with a blocking call.
    node_mqtt_host: str = ""
    # Default: 8883 when the api itself reaches the broker over TLS (the nodes then
    # get the same CA, pinned), else 1883.
    node_mqtt_port: int | None = Field(default=None, ge=1, le=65535)
    # The site's Wi-Fi for the nodes; empty: left for the installer to fill in.
    node_wifi_ssid: str = Field(default="", max_length=32)
    node_wifi_password: SecretStr = SecretStr("")

    host: str = "127.0.0.1"
    port: int = 8000

    # Hostile clients (docs/security.md): request size, login throttle, password checks.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    login_user_free_failures: int = Field(default=5, ge=1)
    login_address_free_failures: int = Field(default=20, ge=1)
    login_first_delay_s: float = Field(default=1.0, gt=0)
    login_max_delay_s: float = Field(default=900.0, gt=0)
    # Memory for concurrent password checks; each scrypt check takes 16 MiB.
    login_memory_mib: int = Field(default=64, ge=16)

    @field_validator("site_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Self:
        """Every problem at once, each naming its setting, none echoing a value."""
        problems = [self._badge_key_problem()]
        if self.environment != "development":
            problems += map(self._weak_secret, SECRETS)
        found = [p for p in problems if p]
        if found:
            raise ValueError("; ".join(found))
        return self

    def _weak_secret(self, name: str) -> str | None:
        """What is wrong with a secret, naming the setting but never echoing the value."""
        value = getattr(self, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        letters = re.sub(r"[^a-z]", "", value.lower())
        setting = f"API_{name.upper()}"
        if (
            len(set(value)) < 4
            or letters in _PLACEHOLDER_WORDS
            or any(part in letters for part in _PLACEHOLDER_PARTS)
        ):
            return f"{setting} is a placeholder; set a real secret in production"
        if len(value) < MIN_SECRET_CHARS:
            return f"{setting} is too short ({len(value)} characters, at least {MIN_SECRET_CHARS})"
        return None

    def _badge_key_problem(self) -> str | None:
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
                return None
            return f"API_BADGE_HASH_KEY is not set; {how}"
        problem = key_error(self.badge_hash_key)
        if problem:
            return f"API_BADGE_HASH_KEY: {problem}; {how}"
        if self.environment != "development" and self.badge_hash_key.lower() == DEV_BADGE_KEY:
            return f"API_BADGE_HASH_KEY is the published development key; {how}"
        return None

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
