# Peacefair PZEM-004T v3.0 on a UART (manual "PZEM-004T V3.0", Modbus-RTU:
# 9600 baud 8N1, function 0x04 reads the ten input registers). It answers a
# valid request after a delay that varies from 30 to 250 ms (measured on such
# modules; the manual gives no figure), byte by byte at the baud rate; a bad
# CRC or another address gets no answer. Bytes the host did not read stay in
# its receive buffer. Its TTL side is powered from the module's VCC: at 5 V
# its TX line idles at 5 V, above the ESP32's 3.6 V absolute maximum (ESP32
# datasheet, absolute maximum ratings: VDD + 0.3 V) unless divided down.
from firmware.logic import modbus

from .rng import Rng

BYTE_US = 10 * 1000000 // 9600  # 8N1: ten bits a byte
ESP32_MAX_INPUT_V = 3.6


class PzemModel:
    def __init__(self, port, readings, address: int = 1, delay_ms=(30, 250), seed: int = 5,
                 supply_v: float = 5.0, divider=None):
        """readings(now_us) -> (volts, amps, watts, wh, hz, pf); divider:
        (top_ohm, bottom_ohm) between its TX and the ESP32's RX, or None."""
        self.port = port
        self.readings = readings
        self.address = address
        self.delay_ms = delay_ms
        self.rng = Rng(seed)
        self.supply_v = supply_v
        self.divider = divider
        self.alive = True
        self._request = bytearray()
        self._queue: list = []  # (arrival_us, byte) not yet read by the host
        self.requests = 0
        self.answered = 0

    def attach(self, rx_gpio: int) -> None:
        self.port.uart_devices[rx_gpio] = self

    def rx_pin_volts(self) -> float:
        if self.divider is None:
            return self.supply_v
        top, bottom = self.divider
        return self.supply_v * bottom / (top + bottom)

    def overdriven(self) -> bool:
        return self.rx_pin_volts() > ESP32_MAX_INPUT_V

    # -- the UART, from the ESP32's side -------------------------------------------

    def uart_receive(self, data: bytes, done_us: int) -> None:
        self._request += data
        if len(self._request) < 8:
            return
        frame = bytes(self._request[-8:])
        self._request = bytearray()
        self.requests += 1
        crc = modbus.crc16(frame, 6)
        if not self.alive or frame[0] != self.address or frame[1] != 0x04 \
                or frame[6] != crc & 0xFF or frame[7] != crc >> 8:
            return
        lo, hi = self.delay_ms
        start = done_us + int(self.rng.uniform(lo, hi) * 1000)
        volts, amps, watts, wh, hz, pf = self.readings(start)
        reply = modbus.pzem_encode(self.address, volts, amps, watts, int(wh) & 0xFFFFFFFF, hz, pf)
        self.answered += 1
        for k in range(len(reply)):
            self._queue.append((start + (k + 1) * BYTE_US, reply[k]))

    def uart_available(self, now_us: int) -> int:
        n = 0
        for arrival, _ in self._queue:
            if arrival > now_us:
                break
            n += 1
        return n

    def uart_take(self, n: int, now_us: int) -> bytes:
        ready = self.uart_available(now_us)
        if n is not None and 0 <= n < ready:
            ready = n
        data = bytes(b for _, b in self._queue[:ready])
        self._queue = self._queue[ready:]
        return data
