"""Where the service connects (environment variables ALERTS_*); the rule
thresholds live in the TOML file named by ALERTS_RULES_FILE (see config.py)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker import MqttSettings
from broker.accounts import ALERTS_PREFIX
from timeseries import InfluxSettings, alerts_database
from timeseries.settings import Seconds


class WebhookTarget(BaseModel):
    url: str
    name: str = ""
    ntfy_topic: str = ""


class Settings(MqttSettings, InfluxSettings, BaseSettings):
    """InfluxDB's connection fields (influx_*) come from timeseries.InfluxSettings,
    the broker's (mqtt_*) from broker.MqttSettings."""

    model_config = SettingsConfigDict(env_prefix="ALERTS_", extra="ignore")

    database_url: str = "sqlite:///workshop.db"
    # Where the alert states go (measurement `alert`, for Grafana): a database
    # of their own, so that the alerts' InfluxDB user only reads the site's.
    # Empty: `<influx_database>_alerts`.
    influx_alerts_database: str = ""
    # A pass has its interval (30 s by default); a query may take most of it.
    influx_timeout_s: Seconds = 30.0
    rules_file: Path | None = None
    interval_s: float = 30.0
    # Touched after each pass that reached InfluxDB; `python -m alerts.health`
    # (the container's health check) reads it.
    heartbeat_file: Path | None = None

    # JSON list, e.g. [{"url": "https://ntfy.example/", "ntfy_topic": "heating"}]
    webhooks: list[WebhookTarget] = []

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_from: str = "workshop-monitor@localhost"
    smtp_to: list[str] = []

    # Empty: no MQTT channel.
    mqtt_host: str = ""
    mqtt_prefix: str = ALERTS_PREFIX

    retry_first_delay_s: float = 2.0
    retry_max_delay_s: float = 300.0
    retry_max_attempts: int = 12

    @model_validator(mode="after")
    def _alerts_database(self) -> Settings:
        if not self.influx_alerts_database:
            self.influx_alerts_database = alerts_database(self.influx_database)
        return self

    def timeline_settings(self) -> InfluxSettings:
        """The InfluxDB connection to the alerts' own database."""
        return self.model_copy(update={"influx_database": self.influx_alerts_database})
