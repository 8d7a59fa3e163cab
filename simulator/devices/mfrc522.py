# NXP MFRC522 (RC522 modules) behind SPI, at the register level (datasheet
# MFRC522 rev. 3.9, section 9 "register description"): the FIFO, the command
# register, the interrupt flags, the timer, the antenna switch, the version
# register, and Transceive against the card in the field. Register values
# and bit meanings are the datasheet's; what a card answers is iso14443.py.
from .iso14443 import Field, air_us

try:
    from typing import Any  # only for the type checker; absent on MicroPython
except ImportError:
    pass

COMMAND, COM_IEN, DIV_IEN, COM_IRQ, DIV_IRQ, ERROR = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING, COLL = 0x09, 0x0A, 0x0C, 0x0D, 0x0E
MODE, TX_MODE, RX_MODE, TX_CONTROL, TX_ASK = 0x11, 0x12, 0x13, 0x14, 0x15
T_MODE, T_PRESCALER, T_RELOAD_H, T_RELOAD_L, VERSION = 0x2A, 0x2B, 0x2C, 0x2D, 0x37
IDLE, TRANSCEIVE, SOFT_RESET = 0x00, 0x0C, 0x0F
RX_IRQ, IDLE_IRQ, ERR_IRQ, TIMER_IRQ = 0x20, 0x10, 0x02, 0x01
FIFO_SIZE = 64  # datasheet 8.3.1
FC_HZ = 13560000

# Reset values (datasheet 9.3, one table per register); the rest are 0.
RESET_VALUES = {COMMAND: 0x20, COM_IEN: 0x80, COM_IRQ: 0x14, CONTROL: 0x10, COLL: 0x80,
                MODE: 0x3F, TX_CONTROL: 0x80, 0x16: 0x10, 0x17: 0x84, 0x18: 0x84, 0x19: 0x4D,
                0x24: 0x26, 0x26: 0x48, 0x27: 0x88, 0x28: 0x20}


class Mfrc522Model:
    """`version`: 0x91 (v1.0), 0x92 (v2.0), clones answer 0x88 or 0x12.
    `startup_us`: after power-up or NRSTPD going high the oscillator must
    start (datasheet 8.8.2: the crystal's start-up time + 37.74 us); until then
    the chip does not answer (MISO reads 0) and ignores writes. A soft reset
    takes the same time. `alive=False`: not powered / not connected."""

    def __init__(self, port, version: int = 0x92, startup_us: int = 10000, alive: bool = True):
        self.port = port
        self.version = version
        self.startup_us = startup_us
        self.alive = alive
        self.field = Field()
        self.regs = bytearray(64)
        self.fifo = bytearray()
        self.rst_gpio = -1
        self._in_reset = False
        self._ready_at = 0
        self._pending: Any = None  # (answer or None, last bits, due_us, timeout_due_us)
        self.frames = 0
        self.power_on()

    # -- wiring ----------------------------------------------------------------

    def attach(self, cs_gpio: int, rst_gpio: int) -> None:
        self.port.spi_devices.append((cs_gpio, self))
        self.rst_gpio = rst_gpio
        self.port.net(rst_gpio).listeners.append(self)

    def changed(self, net) -> None:
        """NRSTPD: low = hard power-down, rising edge = reset and start-up."""
        level = net.driven_by_esp()
        low = level == 0
        if low and not self._in_reset:
            self._in_reset = True
        elif not low and self._in_reset:
            self._in_reset = False
            self.power_on()

    def power_on(self) -> None:
        self._reset_registers()
        self._ready_at = self.port.now_us() + self.startup_us

    def _reset_registers(self) -> None:
        for k in range(64):
            self.regs[k] = RESET_VALUES.get(k, 0)
        self.regs[VERSION] = self.version
        self.fifo = bytearray()
        self._pending = None

    def responsive(self) -> bool:
        return self.alive and not self._in_reset and self.port.now_us() >= self._ready_at

    # -- SPI (datasheet 8.1.2: address byte 1RRRRRR0 = read, 0RRRRRR0 = write) --

    def spi_frame(self, out: bytes) -> bytes:
        if not self.responsive():
            return bytes(len(out))
        addr = (out[0] >> 1) & 0x3F
        if out[0] & 0x80:
            answer = bytearray(len(out))
            for k in range(1, len(out)):
                answer[k] = self.read(addr)
                addr = (out[k] >> 1) & 0x3F
            return bytes(answer)
        for k in range(1, len(out)):
            self.write(addr, out[k])
        return bytes(len(out))

    # -- registers -----------------------------------------------------------

    def read(self, reg: int) -> int:
        self._settle()
        if reg == FIFO_DATA:
            if not self.fifo:
                return 0
            value = self.fifo[0]
            self.fifo = self.fifo[1:]
            return value
        if reg == FIFO_LEVEL:
            return len(self.fifo)
        return self.regs[reg]

    def write(self, reg: int, value: int) -> None:
        self._settle()
        regs = self.regs
        if reg == FIFO_DATA:
            if len(self.fifo) < FIFO_SIZE:
                self.fifo.append(value)
            else:
                regs[ERROR] |= 0x10  # BufferOvfl
            return
        if reg == FIFO_LEVEL:
            if value & 0x80:  # FlushBuffer
                self.fifo = bytearray()
                regs[ERROR] &= ~0x10 & 0xFF
            return
        if reg == COM_IRQ:
            # Set1 (bit 7): 1 sets the marked bits, 0 clears them (9.3.1.5).
            if value & 0x80:
                regs[COM_IRQ] |= value & 0x7F
            else:
                regs[COM_IRQ] &= ~value & 0x7F
            return
        if reg == COMMAND:
            command = value & 0x0F
            if command == SOFT_RESET:
                self.power_on()
                return
            regs[COMMAND] = (regs[COMMAND] & 0xF0) | command | (value & 0x30)
            if command == IDLE:
                self._pending = None
            return
        if reg == BIT_FRAMING:
            regs[BIT_FRAMING] = value & 0x7F
            if value & 0x80 and regs[COMMAND] & 0x0F == TRANSCEIVE:
                self._send(value & 0x07)
            return
        if reg == VERSION:
            return  # read only
        regs[reg] = value

    # -- the radio ---------------------------------------------------------------

    def _timer_us(self) -> int:
        """Timer period (8.5): f = 13.56 MHz / (2 * TPreScaler + 1)."""
        prescaler = ((self.regs[T_MODE] & 0x0F) << 8) | self.regs[T_PRESCALER]
        reload = (self.regs[T_RELOAD_H] << 8) | self.regs[T_RELOAD_L]
        return (reload + 1) * (2 * prescaler + 1) * 1000000 // FC_HZ

    def _send(self, tx_last_bits: int) -> None:
        frame = bytes(self.fifo)
        self.fifo = bytearray()
        self.frames += 1
        now = self.port.now_us()
        answer = None
        if self.regs[TX_CONTROL] & 0x03:  # Tx1RFEn / Tx2RFEn: antenna on
            answer = self.field.exchange(frame, tx_last_bits)
        bits_out = len(frame) * 8 - ((8 - tx_last_bits) % 8)
        bits_in = len(answer[0]) * 8 if answer else 0
        timeout = now + self._timer_us() if self.regs[T_MODE] & 0x80 else None  # TAuto
        self._pending = (answer, now + air_us(bits_out, bits_in), timeout)
        self.regs[ERROR] = 0

    def _settle(self) -> None:
        pending = self._pending
        if pending is None:
            return
        answer, due, timeout = pending
        now = self.port.now_us()
        if answer is not None and now >= due:
            data, last_bits = answer
            self.fifo = bytearray(data)
            self.regs[CONTROL] = (self.regs[CONTROL] & 0xF8) | last_bits
            self.regs[COM_IRQ] |= RX_IRQ
            self._pending = None
        elif answer is None and timeout is not None and now >= timeout:
            self.regs[COM_IRQ] |= TIMER_IRQ
            self._pending = None
