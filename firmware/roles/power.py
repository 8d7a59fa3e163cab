# Power measurement of a machine: a current clamp on the ADC (RMS over whole
# mains cycles, optionally real power against a voltage reference), or a
# PZEM-004T v3 over Modbus RTU, whose own energy register is billing grade.
import array

from firmware.logic.energy import RegisterDelta
from firmware.logic.rms import RmsAccumulator, real_power

ADC_FULL = 4095


class ClampPower:
    """adc: driver with read_chunk(i_buf, v_buf_or_None, n, interval_us)."""

    billing_register = False

    def __init__(self, adc, clock, c: dict):
        self.adc = adc
        self.clock = clock
        self.per_cycle = int(c["samples_per_cycle"])
        self.cycles = int(c["cycles"])
        self.interval_us = 1000000 // (int(c["mains_hz"]) * self.per_cycle)
        volts_per_count = float(c["adc_ref_v"]) / ADC_FULL
        self.amps_per_count = volts_per_count * float(c["amps_per_volt"])
        self.volts_per_count = volts_per_count * float(c.get("volts_per_volt", 0) or 0)
        self.volts = float(c["volts"])
        self.pf = float(c["pf"])
        self.min_a = float(c["min_a"])
        self.i_buf = array.array("H", bytes(2 * self.per_cycle))
        self.v_buf = array.array("H", bytes(2 * self.per_cycle)) if adc.has_voltage else None
        self.i_acc = RmsAccumulator(ADC_FULL // 2)
        self.v_acc = RmsAccumulator(ADC_FULL // 2)

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
        amps = self.i_acc.finish() * self.amps_per_count
        if self.v_buf is not None:
            self.v_acc.finish()
            watts = p_acc / self.cycles * self.amps_per_count * self.volts_per_count
        else:
            watts = amps * self.volts * self.pf
        if amps < self.min_a:
            return 0.0, 0.0, -1
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
