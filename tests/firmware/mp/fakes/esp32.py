# Stand-in for the `esp32` module: the model of its hardware pulse counter.
import machine

PCNT = machine.PORT.PCNT
