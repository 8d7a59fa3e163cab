# MFRC522 (RC522 boards) over SPI: just enough ISO 14443A to read the UID of
# the card in the field (4-byte UIDs; the first cascade level of longer ones,
# which is unique enough for an allow-list hash).
COMMAND, COM_IEN, COM_IRQ, ERROR = 0x01, 0x02, 0x04, 0x06
FIFO_DATA, FIFO_LEVEL, CONTROL, BIT_FRAMING = 0x09, 0x0A, 0x0C, 0x0D
MODE, TX_CONTROL, TX_ASK = 0x11, 0x14, 0x15
T_MODE, T_PRESCALER, T_RELOAD_H, T_RELOAD_L = 0x2A, 0x2B, 0x2C, 0x2D
IDLE, TRANSCEIVE, SOFT_RESET = 0x00, 0x0C, 0x0F
WUPA, ANTICOLL_CL1 = 0x52, 0x93


class Mfrc522:
    def __init__(self, port, spi, cs: int, rst: int):
        self.spi = spi
        self.cs = port.Pin(cs, port.Pin.OUT, value=1)
        self.rst = port.Pin(rst, port.Pin.OUT, value=1)
        self._one = bytearray(1)
        self._two = bytearray(2)
        self._write(COMMAND, SOFT_RESET)
        self._write(T_MODE, 0x8D)
        self._write(T_PRESCALER, 0x3E)
        self._write(T_RELOAD_L, 30)
        self._write(T_RELOAD_H, 0)
        self._write(TX_ASK, 0x40)
        self._write(MODE, 0x3D)
        self._write(TX_CONTROL, self._read(TX_CONTROL) | 0x03)  # antenna on

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

    def _transceive(self, data, framing: int):
        self._write(COM_IEN, 0xF7)
        self._write(COM_IRQ, 0x7F)  # clear interrupt flags
        self._write(FIFO_LEVEL, 0x80)  # flush
        self._write(COMMAND, IDLE)
        for byte in data:
            self._write(FIFO_DATA, byte)
        self._write(BIT_FRAMING, framing)
        self._write(COMMAND, TRANSCEIVE)
        self._write(BIT_FRAMING, framing | 0x80)  # start send
        for _ in range(200):
            irq = self._read(COM_IRQ)
            if irq & 0x30 or irq & 0x01:  # rx done / idle, or timer expired
                break
        self._write(BIT_FRAMING, framing)
        if not irq & 0x30 or self._read(ERROR) & 0x1B:
            return None
        n = self._read(FIFO_LEVEL)
        return bytes(self._read(FIFO_DATA) for _ in range(n))

    def read_uid(self):
        """UID bytes of the card in the field, or None."""
        if self._transceive((WUPA,), 0x07) is None:
            return None
        answer = self._transceive((ANTICOLL_CL1, 0x20), 0x00)
        if answer is None or len(answer) != 5:
            return None
        if answer[0] ^ answer[1] ^ answer[2] ^ answer[3] != answer[4]:
            return None  # collision or noise: the BCC does not match
        return answer[:4]
