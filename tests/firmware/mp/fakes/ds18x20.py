# Stand-in for micropython-lib's `ds18x20`: the 1-Wire model's.
from simulator.devices.onewire import DS18X20  # noqa: F401
