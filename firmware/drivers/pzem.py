# PZEM-004T v3 on a UART at 9600 8N1 (Modbus RTU). The framing and CRC are in
# logic/modbus.py; this only moves bytes.
REPLY_WAIT_MS = 60  # 25 bytes at 9600 baud take 26 ms, the meter ~20 ms to answer


class PzemUart:
    def __init__(self, port, uart):
        self.port = port
        self.uart = uart

    async def transact(self, request: bytes, reply_len: int) -> bytes:
        while self.uart.any():
            self.uart.read()  # stale bytes of an earlier, timed-out reply
        self.uart.write(request)
        await self.port.sleep_ms(REPLY_WAIT_MS)
        reply = self.uart.read(reply_len)
        if not reply:
            raise OSError("no reply from meter")
        return reply
