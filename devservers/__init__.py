"""Real servers (Mosquitto, InfluxDB 1.x, PostgreSQL, chronyd) started as plain processes
on free loopback ports in temporary folders: for the tests, the benchmarks and
the local stack. Nothing here is a mock; each class runs the Debian binary."""

from devservers.chrony import Chrony
from devservers.influxdb import InfluxDB
from devservers.mosquitto import Mosquitto, SiteMosquitto, site_accounts
from devservers.postgres import PostgreSQL
from devservers.process import ServerProcess, free_port

__all__ = ["Chrony", "InfluxDB", "Mosquitto", "PostgreSQL", "ServerProcess", "SiteMosquitto",
           "free_port", "site_accounts"]
