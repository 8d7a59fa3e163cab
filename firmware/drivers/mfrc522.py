# MFRC522 (RC522 modules) over SPI, after NXP's datasheet (MFRC522 rev. 3.9):
# a hard reset and the oscillator's start-up time before the first access,
# the version register checked (a reader that never came up, or fell off the
# bus, is reported and set up again), and the whole UID of a 4-, 7- or
# 10-byte card read through the cascade levels (ISO 14443-3 6.5.3), so that
# a card hashes the same on an MFRC522 and a PN532 node.
from firmware.logic.iso14443 import CASCADE_TAG, crc_a

COMMAND, COM_IRQ, ERROR = 0x01, 0x04, 0x06
FIFO_DATA, FIFO_LEVEL, BIT_FRAMING = 0x09, 0x0A, 0x0D
MODE, TX_CONTROL, TX_ASK = 0x11, 0x14, 0x15
T_MODE, T_PRESCALER, T_RELOAD_H, T_RELOAD_L, VERSION = 0x2A, 0x2B, 0x2C, 0x2D, 0x37
IDLE, TRANSCEIVE = 0x00, 0x0C
WUPA, HLTA = 0x52, 0x50
SEL = (0x93, 0x95, 0x97)
# 0x91/0x92: NXP v1.0/v2.0; 0x88 and 0xB2: FM17522 clones; 0x12: a common counterfeit.
VERSIONS = (0x91, 0x92, 0x88, 0xB2, 0x12)
# 8.8.2: start-up = the crystal's + 37.74 us; crystals take a few ms, libraries wait 50.
STARTUP_MS = 50
SETUP_RETRY_MS = 5000
CHECK_EVERY = 100  # polls between version checks (~5 s at the default 50 ms)
# Timer (8.5): 13.56 MHz / (2 * 169 + 1) = 40 kHz, 200 ticks = 5 ms: no card
# answers later than that, and a poll without a card holds the loop that long.
PRESCALER, RELOAD = 169, 200
ANSWER_WAIT_US = 6000


class Mfrc522:
    def __init__(self, port, spi, cs: int, rst: int):
        self.port = port
        self.spi = spi
        self.cs = port.Pin(cs, port.Pin.OUT, value=1)
        self.rst = port.Pin(rst, port.Pin.OUT, value=1)
        self._two = bytearray(2)
        self.ready = False
        self.fault = ""
        self._setup_at = port.ticks_ms()
        self._polls = 0

    async def read_uid(self):
        """UID bytes of the card in the field (4, 7 or 10), or None."""
        port = self.port
        if self.ready:
            self._polls += 1
            if self._polls >= CHECK_EVERY:
                self._polls = 0
                self._check_version()
        if not self.ready:
            if port.ticks_diff(port.ticks_ms(), self._setup_at) < 0:
                return None
            await self._setup()
            if not self.ready:
                self._setup_at = port.ticks_add(port.ticks_ms(), SETUP_RETRY_MS)
                return None
        return self._activate()

    async def _setup(self) -> None:
        self.rst(0)  # hard reset (8.8.1), then the oscillator has to start
        self.port.sleep_us(10)
        self.rst(1)
        await self.port.sleep_ms(STARTUP_MS)
        if not self._check_version():
            return
        self._write(T_MODE, 0x80 | (PRESCALER >> 8))  # TAuto: runs from the end of sending
        self._write(T_PRESCALER, PRESCALER & 0xFF)
        self._write(T_RELOAD_H, RELOAD >> 8)
        self._write(T_RELOAD_L, RELOAD & 0xFF)
        self._write(TX_ASK, 0x40)  # 100 % ASK
        self._write(MODE, 0x3D)  # CRC preset 6363h (ISO 14443-3)
        self._write(TX_CONTROL, self._read(TX_CONTROL) | 0x03)  # antenna on
        if self._read(TX_CONTROL) & 0x03 != 0x03:
            self._fail("mfrc522 does not keep its settings")

    def _check_version(self) -> bool:
        version = self._read(VERSION)
        if version not in VERSIONS:
            self._fail("mfrc522 version register reads 0x%02x: no reader on SPI" % version)
            return False
        self.ready = True
        self.fault = ""
        return True

    def _fail(self, detail: str) -> None:
        self.ready = False
        self.fault = detail

    def _write(self, reg: int, value: int) -> None:
        self._two[0] = (reg << 1) & 0x7E
        self._two[1] = value
        self.cs(0)
        self.spi.write(self._two)
        self.cs(1)

    def _read(self, reg: int) -> int:
        self._two[0] = ((reg << 1) & 0x7E) | 0x80
        self._two[1] = 0
        self.cs(0)
        self.spi.write_readinto(self._two, self._two)
        self.cs(1)
        return self._two[1]

    def _transceive(self, data, last_bits: int, answer: bool = True):
        self._write(COMMAND, IDLE)
        self._write(COM_IRQ, 0x7F)  # clear the interrupt flags
        self._write(FIFO_LEVEL, 0x80)  # flush
        for byte in data:
            self._write(FIFO_DATA, byte)
        self._write(BIT_FRAMING, last_bits)
        self._write(COMMAND, TRANSCEIVE)
        self._write(BIT_FRAMING, 0x80 | last_bits)  # StartSend
        if not answer:  # HLTA: nothing comes back; let it leave, then stop
            self.port.sleep_us(1000)
            self._write(COMMAND, IDLE)
            return None
        port = self.port
        deadline = port.ticks_add(port.ticks_us(), ANSWER_WAIT_US)
        irq = 0
        while not irq & 0x31:  # RxIRq, IdleIRq, TimerIRq
            if port.ticks_diff(deadline, port.ticks_us()) <= 0:
                break
            irq = self._read(COM_IRQ)
        self._write(BIT_FRAMING, last_bits)
        if not irq & 0x30 or self._read(ERROR) & 0x1B:  # overflow, collision, parity, protocol
            return None
        n = self._read(FIFO_LEVEL)
        return bytes(self._read(FIFO_DATA) for _ in range(n))

    def _activate(self):
        """WUPA, then anticollision and SELECT per cascade level, then HLTA so
        that the card answers the next poll's WUPA again."""
        if self._transceive((WUPA,), 7) is None:
            return None
        uid = bytearray()
        for sel in SEL:
            part = self._transceive((sel, 0x20), 0)
            if part is None or len(part) != 5 or part[0] ^ part[1] ^ part[2] ^ part[3] != part[4]:
                return None  # no answer, or a collision / noise: the BCC does not match
            select = bytes((sel, 0x70)) + part
            sak = self._transceive(select + crc_a(select), 0)
            if sak is None or len(sak) != 3 or crc_a(sak[:1]) != sak[1:]:
                return None
            if not sak[0] & 0x04:  # cascade bit clear: the UID is complete
                uid.extend(part[:4])
                halt = bytes((HLTA, 0))
                self._transceive(halt + crc_a(halt), 0, False)
                return bytes(uid)
            if part[0] != CASCADE_TAG:
                return None
            uid.extend(part[1:4])
        return None
