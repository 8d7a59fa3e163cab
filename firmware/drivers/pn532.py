# PN532 (NFC module in I2C mode, address 0x24), after NXP's user manual
# UM0701-02. Never blocks the event loop and never raises: the chip answers
# "not ready" or, while it works or sleeps, does not acknowledge its address
# (the ESP32 port raises OSError), so every exchange polls its status byte
# between asyncio sleeps and gives up at a deadline, aborting the command
# with an ACK frame (6.2.1.3) so that no command is ever sent over an
# unfinished one. Set-up (SAMConfiguration, the retry limit) is retried
# until the chip answers: asleep at boot, it wakes on the first attempt.
from firmware.logic.pn532_frame import HOST_TO_PN532, PN532_TO_HOST, frame, parse

ADDRESS = 0x24
GET_FIRMWARE_VERSION = 0x02
SAM_CONFIGURATION = 0x14
RF_CONFIGURATION = 0x32
IN_LIST_PASSIVE_TARGET = 0x4A
ACK = b"\x00\x00\xff\x00\xff\x00"
# RFConfiguration item 5 (7.3.1): MxRtyATR, MxRtyPSL, MxRtyPassiveActivation.
# The last defaults to 0xFF, "retry for ever": InListPassiveTarget would then
# not answer until a card comes. One retry answers "no card" within ms.
MAX_RETRIES = b"\x05\xff\x01\x01"
STATUS_POLL_MS = 5
ACK_WAIT_MS = 30
ANSWER_WAIT_MS = 100
SETUP_RETRY_MS = 200  # times the failures in a row, up to:
SETUP_RETRY_MAX_MS = 5000
FAILURES_BEFORE_FAULT = 3


def parse_response(data, command: int):
    """Response frame (after the I2C status byte) -> its parameters or None."""
    parsed = parse(data)
    if parsed is None or parsed[0] != PN532_TO_HOST or parsed[1] != command + 1:
        return None
    return parsed[2]


class Pn532:
    def __init__(self, port, i2c):
        self.port = port
        self.i2c = i2c
        self.ready = False
        self.fault = ""
        self.failures = 0
        self._status = bytearray(1)
        self._setup_at = port.ticks_ms()

    async def read_uid(self):
        """UID bytes of the card in the field (all of them: 4, 7 or 10), or None."""
        port = self.port
        if not self.ready:
            if port.ticks_diff(port.ticks_ms(), self._setup_at) < 0:
                return None
            if not await self._setup():
                self._failed()
                delay = SETUP_RETRY_MS * self.failures
                self._setup_at = port.ticks_add(port.ticks_ms(), min(delay, SETUP_RETRY_MAX_MS))
                return None
        answer = await self._exchange(IN_LIST_PASSIVE_TARGET, b"\x01\x00", ANSWER_WAIT_MS, 26)
        if answer is None:
            self._failed()
            if self.failures >= FAILURES_BEFORE_FAULT:
                self.ready = False  # it may have lost power: set it up again
            return None
        self.failures = 0
        # NbTg, Tg, SENS_RES (2), SEL_RES, NFCIDLength, NFCID1 (7.3.5)
        if len(answer) < 6 or answer[0] != 1:
            return None
        n = answer[5]
        return answer[6 : 6 + n] if len(answer) >= 6 + n else None

    def _failed(self) -> None:
        # One miss is a wake-up or a busy moment; several in a row a fault.
        self.failures += 1
        if self.failures >= FAILURES_BEFORE_FAULT:
            self.fault = "pn532 not answering on I2C"

    async def _setup(self) -> bool:
        if await self._exchange(SAM_CONFIGURATION, b"\x01\x14\x01", ANSWER_WAIT_MS) is None \
                or await self._exchange(RF_CONFIGURATION, MAX_RETRIES, ANSWER_WAIT_MS) is None:
            return False
        self.ready = True
        self.fault = ""
        self.failures = 0
        return True

    async def _exchange(self, command: int, params: bytes, wait_ms: int, reply: int = 10):
        """One command: frame, ACK, answer (`reply` bytes with the status
        byte: at 100 kHz each byte holds the bus, and the loop, 90 us);
        its parameters, or None."""
        try:
            self.i2c.writeto(ADDRESS, frame(HOST_TO_PN532, command, params))
        except OSError:
            return None  # asleep (this woke it) or still busy: next time
        if not await self._wait_ready(ACK_WAIT_MS):
            self._abort()
            return None
        try:
            if self.i2c.readfrom(ADDRESS, 7)[1:] != ACK:
                self._abort()
                return None
        except OSError:
            self._abort()
            return None
        if not await self._wait_ready(wait_ms):
            self._abort()
            return None
        try:
            data = self.i2c.readfrom(ADDRESS, reply)
        except OSError:
            self._abort()
            return None
        return parse_response(data[1:], command)

    async def _wait_ready(self, wait_ms: int) -> bool:
        port = self.port
        deadline = port.ticks_add(port.ticks_ms(), wait_ms)
        while True:
            try:
                self.i2c.readfrom_into(ADDRESS, self._status)
                if self._status[0] & 0x01:
                    return True
            except OSError:
                pass  # busy: SCL held past the port's timeout; asleep: no ACK
            if port.ticks_diff(deadline, port.ticks_ms()) <= 0:
                return False
            await port.sleep_ms(STATUS_POLL_MS)

    def _abort(self) -> None:
        try:
            self.i2c.writeto(ADDRESS, ACK)
        except OSError:
            pass
