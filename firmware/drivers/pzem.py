# PZEM-004T v3 on a UART at 9600 8N1 (Modbus RTU). The framing and CRC are in
# logic/modbus.py; this only moves bytes. The meter answers 30-250 ms after a
# request, so the reply is collected between asyncio sleeps until it is
# complete or REPLY_DEADLINE_MS passed; whatever is left in the receive
# buffer from an earlier, late reply is dropped before the next request.
REPLY_DEADLINE_MS = 300  # 250 ms to answer + 25 bytes at 9600 baud (26 ms)
POLL_MS = 10


class PzemUart:
    def __init__(self, port, uart):
        self.port = port
        self.uart = uart

    async def transact(self, request: bytes, reply_len: int) -> bytes:
        port = self.port
        uart = self.uart
        while uart.any():
            uart.read()  # stale bytes of an earlier, timed-out reply
        uart.write(request)
        reply = b""
        deadline = port.ticks_add(port.ticks_ms(), REPLY_DEADLINE_MS)
        while len(reply) < reply_len:
            # A Modbus exception answer is 5 bytes: function code | 0x80.
            if len(reply) >= 5 and reply[1] & 0x80:
                break
            if port.ticks_diff(deadline, port.ticks_ms()) <= 0:
                raise OSError("no reply from meter within %d ms" % REPLY_DEADLINE_MS)
            await port.sleep_ms(POLL_MS)
            chunk = uart.read(reply_len - len(reply))
            if chunk:
                reply += chunk
        return reply
