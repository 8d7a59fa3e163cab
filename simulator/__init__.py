"""Runs a fleet of virtual workshop nodes: the firmware's own modules on
virtual hardware, in virtual time that can run faster than real time, against
a real MQTT broker."""

from simulator.fleet import Fleet, SimNode
from simulator.vloop import VirtualTimeLoop

__all__ = ["Fleet", "SimNode", "VirtualTimeLoop"]
