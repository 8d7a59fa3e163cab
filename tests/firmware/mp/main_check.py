# Under MicroPython with the fake hardware modules over the device models:
# the board's entry point (firmware/main.py). The config validator is freed
# after a good config; a pin the port refuses gives the safe mode; a crash,
# Ctrl-C and SystemExit all leave the relay module de-energised, and a crash
# waits the counted back-off, then resets.
# Prints "MAIN-OK {json}".
import gc
import json
import sys

import micropython

sys.path.insert(0, "/app")
sys.path.insert(0, "/fakes")

import asyncio

import machine
from mp.signed import DOWNLINK_KEY

from firmware import main
from firmware.drivers import watchdog
from protocol import badge, downlink, wire  # noqa: F401 - loaded by a machine node anyway, not counted below
from simulator.devices import adc, gpio

CFG = {"site": "b", "device": "m1", "role": "machine", "mqtt": {"host": "10.0.0.2"},
       "wifi": {"ssid": "w", "password": "p"}, "badge_key": "00112233445566778899aabbccddeeff",
       "downlink_key": DOWNLINK_KEY}
with open("/config.json", "w") as f:
    f.write(json.dumps(CFG))
PORT = machine.PORT
relay = gpio.RelayModule(PORT, 26, low_trigger=True)  # the default relay_active_low
adc.EspAdc(adc.ClampSignal(lambda t: 0.0)).attach(PORT, 36)
out = {}
# --- run.mjs: new call ---
gc.collect()
BEFORE = gc.mem_alloc()
# The string pool before and after (printed, no heap): the names interned
# while compiling stay, and when they start a new pool, that pool's whole
# block is new heap (4-5 KB). tests/firmware/test_logic.py counts it apart.
micropython.qstr_info()
cfg, errors = main.load_config()
micropython.qstr_info()
# --- run.mjs: new call ---
gc.collect()
out["config_kept_bytes"] = gc.mem_alloc() - BEFORE
assert not errors, errors
assert "firmware.config" not in sys.modules

from firmware.drivers.board import Board  # noqa: E402

# A pin the port refuses (config checks cannot know every board): safe mode.
all_gpios = PORT.gpios
PORT.gpios = tuple(g for g in all_gpios if g != 26)
board = Board(cfg)
coro = main.start(cfg, [], board)
assert board.watchdog is not None and board.reader is None  # start_safe, not start
assert board.interlock is None and not relay.energised
coro.close()
PORT.gpios = all_gpios


def session_then(exc):
    def fake_run(coro):
        coro.close()
        machine.Pin(26).value(0)  # the interlock was closed (low trigger): a session ran
        assert relay.energised
        raise exc
    return fake_run


waits = []
watchdog.sleep_fed = lambda wdt, seconds: waits.append(seconds)
machine.RTC.data = b"\x01"
asyncio.run = session_then(RuntimeError("task blew up"))
main.run()
assert not relay.energised, "crash left the interlock closed"
assert waits == [10] and machine.RTC.data == b"\x02" and machine.resets, (waits, machine.resets)

asyncio.run = session_then(KeyboardInterrupt())
try:
    main.run()
    raise AssertionError("Ctrl-C swallowed")
except KeyboardInterrupt:
    pass
assert not relay.energised, "Ctrl-C left the interlock closed"
asyncio.run = session_then(SystemExit())
try:
    main.run()
except SystemExit:
    pass
assert not relay.energised, "SystemExit left the interlock closed"
out["exits"] = ["crash", "ctrl-c", "exit"]
print("MAIN-OK " + json.dumps(out))
