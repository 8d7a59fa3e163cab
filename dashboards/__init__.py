"""Grafana dashboards for the coordinator (InfluxQL on the InfluxDB data source),
their provisioning files, and `python -m dashboards.push` for an existing Grafana."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
JSON_DIR = HERE / "json"
PROVISIONING_DIR = HERE / "provisioning"
DATASOURCE_UID = "workshop-influxdb"
