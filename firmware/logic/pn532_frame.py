# PN532 normal information frames (NXP UM0701-02, 6.2.1.1): preamble and
# start code, LEN and its checksum, TFI (D4h host to PN532, D5h back), the
# command code and its data, the data checksum, postamble. No I/O: the driver
# and the chip's model (simulator/devices/pn532.py) both speak it.
HOST_TO_PN532 = 0xD4
PN532_TO_HOST = 0xD5


def frame(tfi: int, command: int, params: bytes) -> bytes:
    body = bytes((tfi, command)) + params
    length = len(body)
    checksum = (-sum(body)) & 0xFF
    return b"\x00\x00\xff" + bytes((length, (-length) & 0xFF)) + body + bytes((checksum, 0))


def parse(data):
    """Bytes holding a frame -> (tfi, command, params), or None when there is
    no whole frame or a checksum is wrong."""
    start = bytes(data).find(b"\x00\xff")
    if start < 0 or start + 4 > len(data):
        return None
    length = data[start + 2]
    if (length + data[start + 3]) & 0xFF or start + 5 + length > len(data) or length < 2:
        return None
    body = data[start + 4 : start + 4 + length]
    if (sum(body) + data[start + 4 + length]) & 0xFF:
        return None
    return body[0], body[1], bytes(body[2:])
