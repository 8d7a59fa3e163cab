"""Grafana dashboards for the coordinator (InfluxQL on the InfluxDB data sources),
their provisioning files, and `python -m dashboards.push` for an existing Grafana."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
JSON_DIR = HERE / "json"
PROVISIONING_DIR = HERE / "provisioning"
DATASOURCE_UID = "workshop-influxdb"
# The alerts' own database (alert states, timeseries.alerts_database): the
# open-alert panels read it through a data source of its own.
ALERTS_DATASOURCE_UID = "workshop-alerts"
