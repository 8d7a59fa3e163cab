# Stand-in for micropython-lib's `onewire`: the 1-Wire model's.
from devices.onewire import OneWire, OneWireError  # noqa: F401
