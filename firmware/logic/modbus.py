# Modbus RTU framing for the PZEM-004T v3 (and compatible energy meters):
# CRC-16/MODBUS, the read-input-registers request, and the decoded reply.
# Pure bytes in, numbers out; the UART lives in drivers/pzem.py.
import struct

READ_INPUT = 0x04
PZEM_REGISTERS = 10  # voltage, current(2), power(2), energy(2), freq, pf, alarm


class ModbusError(Exception):
    pass


def crc16(data, length: int = -1) -> int:
    if length < 0:
        length = len(data)
    crc = 0xFFFF
    for k in range(length):
        crc ^= data[k]
        for _ in range(8):
            if crc & 1:
                crc = (crc >> 1) ^ 0xA001
            else:
                crc >>= 1
    return crc


def read_request(address: int, first: int, count: int) -> bytes:
    frame = bytearray(8)
    struct.pack_into(">BBHH", frame, 0, address, READ_INPUT, first, count)
    crc = crc16(frame, 6)
    frame[6] = crc & 0xFF
    frame[7] = crc >> 8
    return bytes(frame)


def check_reply(frame, address: int, count: int):
    """-> memoryview of the register bytes, or ModbusError naming the fault."""
    expected = 5 + 2 * count
    if len(frame) < 5:
        raise ModbusError("short reply (%d bytes)" % len(frame))
    if frame[1] == READ_INPUT | 0x80:
        raise ModbusError("meter exception code %d" % frame[2])
    if len(frame) < expected:
        raise ModbusError("short reply (%d of %d bytes)" % (len(frame), expected))
    crc = crc16(frame, expected - 2)
    if frame[expected - 2] != crc & 0xFF or frame[expected - 1] != crc >> 8:
        raise ModbusError("bad CRC")
    if frame[0] != address or frame[1] != READ_INPUT or frame[2] != 2 * count:
        raise ModbusError("reply for another request")
    return memoryview(frame)[3 : 3 + 2 * count]


def pzem_decode(regs) -> tuple:
    """PZEM-004T v3 input registers 0..9 -> (volts, amps, watts, wh, hz, pf).
    32-bit values are sent low word first."""
    r = struct.unpack(">10H", regs)
    volts = r[0] / 10
    amps = (r[1] | (r[2] << 16)) / 1000
    watts = (r[3] | (r[4] << 16)) / 10
    wh = r[5] | (r[6] << 16)
    return volts, amps, watts, wh, r[7] / 10, r[8] / 100


def pzem_encode(address: int, volts: float, amps: float, watts: float, wh: int, hz: float,
                pf: float) -> bytes:
    """The reply a PZEM sends: used by the simulator's virtual meter and tests."""
    a = int(amps * 1000 + 0.5)
    w = int(watts * 10 + 0.5)
    frame = bytearray(5 + 2 * PZEM_REGISTERS)
    struct.pack_into(
        ">BBB10H", frame, 0, address, READ_INPUT, 2 * PZEM_REGISTERS,
        int(volts * 10 + 0.5), a & 0xFFFF, a >> 16, w & 0xFFFF, w >> 16,
        wh & 0xFFFF, (wh >> 16) & 0xFFFF, int(hz * 10 + 0.5), int(pf * 100 + 0.5), 0,
    )
    crc = crc16(frame, len(frame) - 2)
    frame[-2] = crc & 0xFF
    frame[-1] = crc >> 8
    return bytes(frame)
