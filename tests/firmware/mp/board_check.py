# Under MicroPython with fake machine/network/ntptime/onewire/ds18x20: the
# board's drivers for every role are built from the default configs and
# behave (outputs start off, readers answer "no card", the 85 degC power-on
# value is rejected, the epoch is converted, the crash counter is cleared).
# Prints "BOARD-OK {json}".
import json
import sys

sys.path.insert(0, "/app")
sys.path.insert(0, "/fakes")

import machine
import network

from firmware import config
from firmware.drivers.board import Board


def board(role, extra):
    raw = {"site": "b", "device": "dev-" + role, "role": role, "mqtt": {"host": "10.0.0.2"},
           "wifi": {"ssid": "w", "password": "p"}}
    raw.update(extra)
    cfg, errors = config.parse(json.dumps(raw))
    assert not errors, errors
    b = Board(cfg)
    b.start_outputs()
    b.start()
    return b


def run_coro(coro):
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("coroutine did not finish")


out = {}
key = "00112233445566778899aabbccddeeff"
m = board("machine", {"badge_key": key})
assert m.interlock.value() is False and machine.Pin.levels[26] == 0
m.interlock.set(True)
assert machine.Pin.levels[26] == 1
assert m.reader.chip.read_uid() is None and m.adc is not None and m.uart is None
p = board("machine", {"badge_key": key, "reader": "pn532", "power": "pzem"})
assert p.reader.chip.read_uid() is None and p.uart is not None
out["unix_ms"] = run_coro(m.ntp.unix_ms("pool.ntp.org"))
assert out["unix_ms"] == 1767225600000, out  # 2026-01-01 in Unix ms
assert m.reset_cause() == "watchdog"
# The crash counter (RTC memory): 5 s x 2^n before the reset, n capped at 8.
from firmware.drivers import watchdog  # noqa: E402

machine.RTC.data = b"\x02"
assert watchdog.count_crash() == 20 and machine.RTC.data == b"\x03"
machine.RTC.data = b"\x08"
assert watchdog.count_crash() == 5 << 8 and machine.RTC.data == b"\x08"
# A back-off longer than the watchdog's timeout feeds it, without counting
# as healthy running.
short = watchdog.Watchdog(300)
watchdog.sleep_fed(short, 1)
assert short.wdt.fed == 10 and short.feeds == 0, (short.wdt.fed, short.feeds)
assert machine.RTC.data == b"\x08"
for _ in range(60):
    m.watchdog.feed()
assert machine.RTC.data == b"\x00"  # healthy: crash counter cleared
assert m.link.isconnected() is False and network.names == ["dev-machine", "dev-machine"]

h = board("heating", {"sensors": {"t_flow": "2801020304050607", "t_zone1": "2808080808080808"}})
h.thermometers.convert()
assert h.thermometers.read("2801020304050607") == 21.5
assert h.thermometers.read("2808080808080808") is None  # 85.0: lost power mid-conversion
machine.Pin.levels[35] = 1
assert h.call.value() is True

s = board("meter", {})
s.s0.pin.handler(s.s0.pin)
assert s.s0.count() == 1
out["heap"] = s.heap() > 0
print("BOARD-OK " + json.dumps(out))
