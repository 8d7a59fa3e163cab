# PN532 (NFC module in I2C mode, address 0x24): SAM configuration once, then
# InListPassiveTarget for one ISO 14443A card per poll.
ADDRESS = 0x24
HOST_TO_PN532 = 0xD4
SAM_CONFIGURATION = 0x14
IN_LIST_PASSIVE_TARGET = 0x4A
ACK = b"\x00\x00\xff\x00\xff\x00"


def frame(command: int, params: bytes) -> bytes:
    body = bytes((HOST_TO_PN532, command)) + params
    length = len(body)
    checksum = (-sum(body)) & 0xFF
    return b"\x00\x00\xff" + bytes((length, (-length) & 0xFF)) + body + bytes((checksum, 0))


def parse_response(data, command: int):
    """Response frame (after the I2C status byte) -> its parameters or None."""
    start = bytes(data).find(b"\x00\xff")
    if start < 0 or start + 4 > len(data):
        return None
    length = data[start + 2]
    if (length + data[start + 3]) & 0xFF or start + 5 + length > len(data):
        return None
    body = data[start + 4 : start + 4 + length]
    if (sum(body) + data[start + 4 + length]) & 0xFF:
        return None
    if body[0] != 0xD5 or body[1] != command + 1:
        return None
    return bytes(body[2:])


class Pn532:
    def __init__(self, port, i2c):
        self.port = port
        self.i2c = i2c
        self._command(SAM_CONFIGURATION, b"\x01\x14\x01")

    def _ready(self, timeout_ms: int) -> bool:
        status = bytearray(1)
        port = self.port
        deadline = port.ticks_add(port.ticks_ms(), timeout_ms)
        while port.ticks_diff(deadline, port.ticks_ms()) > 0:
            self.i2c.readfrom_into(ADDRESS, status)
            if status[0] == 0x01:
                return True
            port.sleep_ms_blocking(2)
        return False

    def _command(self, command: int, params: bytes, reply: int = 32, timeout_ms: int = 50):
        self.i2c.writeto(ADDRESS, frame(command, params))
        if not self._ready(timeout_ms):
            return None
        if self.i2c.readfrom(ADDRESS, 7)[1:] != ACK:
            return None
        if not self._ready(timeout_ms):
            return None
        return parse_response(self.i2c.readfrom(ADDRESS, reply + 1)[1:], command)

    def read_uid(self):
        answer = self._command(IN_LIST_PASSIVE_TARGET, b"\x01\x00")
        if not answer or answer[0] != 1 or len(answer) < 6:
            return None
        n = answer[5]
        return answer[6 : 6 + n] if len(answer) >= 6 + n else None
