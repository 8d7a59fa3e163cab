# Stand-in for micropython-lib's `onewire`: the 1-Wire model's.
from simulator.devices.onewire import OneWire, OneWireError  # noqa: F401
