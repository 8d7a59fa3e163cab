"""The time-series store: InfluxDB through its v1 HTTP API.

The ground floor under the gateway, the api, the alerts, devservers and the
benchmarks: the client (`client`), the line-protocol encoder (`lines`),
InfluxQL quoting (`influxql`), the connection settings (`settings`), the
errors (`errors`), the late-write markers that writers of late points leave
for readers that cache (`arrivals`), the sorting of a partly refused batch
(`partial`), the retention policies and rollups that keep years of data
fast (`rollup`), and where the alerts' own points go (`alerts_database`). It
imports nothing of the project."""

from timeseries.client import InfluxClient, Series
from timeseries.errors import InfluxError, InfluxPartialWrite, InfluxRejected, InfluxUnavailable
from timeseries.influxql import quote_ident, quote_string, rfc3339, time_range
from timeseries.partial import Refused, write_sorted
from timeseries.settings import InfluxSettings, alerts_database

__all__ = [
    "InfluxClient",
    "InfluxError",
    "InfluxPartialWrite",
    "InfluxRejected",
    "InfluxSettings",
    "InfluxUnavailable",
    "Refused",
    "Series",
    "alerts_database",
    "quote_ident",
    "quote_string",
    "rfc3339",
    "time_range",
    "write_sorted",
]
