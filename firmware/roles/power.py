# Power measurement of a machine: a current clamp on the ADC (RMS over whole
# mains cycles, optionally real power against a voltage reference), or a
# PZEM-004T v3 over Modbus RTU, whose own energy register is billing grade.
import array
import math

from firmware.logic.energy import RegisterDelta
from firmware.logic.rms import RmsAccumulator, real_power


class ClampPower:
    """adc: driver with read_chunk(i_buf, v_buf_or_None, n, interval_us),
    volts_per_unit and mid_units.

    The ESP32's ADC has several LSB of noise with Wi-Fi on: on a 30 A clamp
    that alone reads ~0.12 A, 20-30 W, from a machine that is off. Noise adds
    to the signal in quadrature, so its RMS (`noise_a`) is taken off that
    way, and what stays below `min_a` reads 0: an idle machine shows no
    phantom energy, a real load loses a fraction of a percent."""

    billing_register = False

    def __init__(self, adc, clock, c: dict):
        self.adc = adc
        self.clock = clock
        self.per_cycle = int(c["samples_per_cycle"])
        self.cycles = int(c["cycles"])
        self.interval_us = 1000000 // (int(c["mains_hz"]) * self.per_cycle)
        volts_per_unit = adc.volts_per_unit
        self.amps_per_count = volts_per_unit * float(c["amps_per_volt"])
        self.volts_per_count = volts_per_unit * float(c.get("volts_per_volt", 0) or 0)
        self.volts = float(c["volts"])
        self.pf = float(c["pf"])
        self.min_a = float(c["min_a"])
        self.noise_a2 = float(c["noise_a"]) ** 2
        self.i_buf = array.array("H", bytes(2 * self.per_cycle))
        self.v_buf = array.array("H", bytes(2 * self.per_cycle)) if adc.has_voltage else None
        self.i_acc = RmsAccumulator(adc.mid_units)
        self.v_acc = RmsAccumulator(adc.mid_units)

    async def sample(self) -> tuple:
        """-> (watts, amps, wh from a meter register or -1). One mains cycle
        per chunk, yielding between chunks: sampling never holds the
        scheduler longer than 20 ms, so a badge is never kept waiting."""
        n = self.per_cycle
        p_acc = 0.0
        for _ in range(self.cycles):
            self.adc.read_chunk(self.i_buf, self.v_buf, n, self.interval_us)
            if self.v_buf is not None:
                p_acc += real_power(self.v_buf, self.i_buf, n, self.v_acc.bias, self.i_acc.bias)
                self.v_acc.add(self.v_buf, n)
            self.i_acc.add(self.i_buf, n)
            await self.clock.sleep_ms(0)
        measured = self.i_acc.finish() * self.amps_per_count
        above_noise = measured * measured - self.noise_a2
        amps = math.sqrt(above_noise) if above_noise > 0 else 0.0
        if amps < self.min_a:
            if self.v_buf is not None:
                self.v_acc.finish()
            return 0.0, 0.0, -1
        if self.v_buf is not None:
            self.v_acc.finish()
            watts = p_acc / self.cycles * self.amps_per_count * self.volts_per_count
        else:
            watts = amps * self.volts * self.pf
        return (watts if watts > 0 else 0.0), amps, -1


class PzemPower:
    """uart: driver with async transact(request, reply_len) -> bytes."""

    billing_register = True

    def __init__(self, uart, address: int):
        from firmware.logic import modbus  # only meter-equipped nodes load it

        self.modbus = modbus
        self.uart = uart
        self.address = address
        self.request = modbus.read_request(address, 0, modbus.PZEM_REGISTERS)
        self.reply_len = 5 + 2 * modbus.PZEM_REGISTERS
        self.delta = RegisterDelta()
        self.errors = 0
        self.last_error = ""

    async def sample(self) -> tuple:
        try:
            reply = await self.uart.transact(self.request, self.reply_len)
            regs = self.modbus.check_reply(reply, self.address, self.modbus.PZEM_REGISTERS)
        except (self.modbus.ModbusError, OSError) as exc:
            self.errors += 1
            self.last_error = str(exc)
            return -1.0, -1.0, 0
        amps, watts, wh = self.modbus.pzem_decode(regs)[1:4]
        return watts, amps, self.delta.step(wh)
