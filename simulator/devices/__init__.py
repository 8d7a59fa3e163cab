# Device models at the bus level: what the firmware's drivers talk to when
# there is no board. `port.Port` is the MicroPython ESP32 port's hardware API
# (machine.Pin/SPI/I2C/ADC/UART, esp32.PCNT, time.ticks_*) backed by models
# of the chips on the node: mfrc522, pn532, onewire (DS18B20), adc, pzem, gpio
# (optocoupler inputs, relay modules, S0 pulses).
#
# Written in the MicroPython subset: the firmware tests run them under real
# MicroPython (mounted as simulator/devices, see tests/firmware/micropython.py)
# and CPython, and the simulator builds every node's hardware from them
# (simulator/hardware.py); flash.py models the node's flash under the
# firmware's own file calls. Nothing here imports the rest of the simulator;
# only firmware.logic (Modbus frames) and firmware.store.fsutil are shared.
