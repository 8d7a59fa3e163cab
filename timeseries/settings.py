"""Where the time-series store is: one definition of the InfluxDB connection
fields. The gateway's, the api's and the alerts' Settings inherit them, so each
reads them from its own environment (GATEWAY_INFLUX_URL, API_INFLUX_URL, ...)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, SecretStr

Seconds = Annotated[float, Field(gt=0)]


class InfluxSettings(BaseModel):
    influx_url: str = "http://127.0.0.1:8086"
    influx_database: str = "workshop"
    influx_username: str = ""
    influx_password: SecretStr = SecretStr("")
    # Per request. A service whose queries read months (the api) raises it.
    influx_timeout_s: Seconds = 10.0


def alerts_database(site_database: str) -> str:
    """The database the alert service writes its alert states into, beside the
    site's: InfluxDB 1.x grants per database, so the alerts' user may write
    here and only read the site's data (deploy/influx_init.py)."""
    return site_database + "_alerts"
