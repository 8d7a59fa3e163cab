# NXP PN532 (NFC module in I2C mode, address 0x24), after the user manual
# UM0701-02: normal information frames (6.2.1.1), the ACK frame (6.2.1.3),
# the I2C status byte (6.2.4: RDY = bit 0 of the first byte read), the
# commands a badge reader needs (7.2.2 GetFirmwareVersion, 7.2.10
# SAMConfiguration, 7.3.1 RFConfiguration item 5 "MaxRetries", 7.3.5
# InListPassiveTarget), and its bus behaviour that the ESP32 port reports as
# OSError: asleep it does not acknowledge its address (ENODEV) and wakes up,
# and while it executes a command it holds SCL low longer than the ESP32's
# I2C timeout (ETIMEDOUT). A new command over an unfinished one is refused
# the same way; an ACK frame from the host aborts the running command.
from firmware.logic.pn532_frame import HOST_TO_PN532, PN532_TO_HOST, frame, parse

from .iso14443 import HLTA, SEL, WUPA, Field, crc_a
from .port import ENODEV, ETIMEDOUT

try:
    from typing import Any  # only for the type checker; absent on MicroPython
except ImportError:
    pass

ADDRESS = 0x24
ACK = b"\x00\x00\xff\x00\xff\x00"
ERROR_FRAME = b"\x00\x00\xff\x01\xff\x7f\x81\x00"  # application level error (6.2.1.5)
FIRMWARE = b"\x32\x01\x06\x07"  # IC PN532, version 1.6, ISO 14443A/B + ISO 18092
ACK_US = 1000  # frame received to ACK ready: an estimate (the manual gives none)
ANSWER_US = 1000  # simple commands: an estimate
ATTEMPT_US = 4800  # one passive activation attempt without a card: an estimate
WAKE_US = 2000  # oscillator start after an I2C wake-up: an estimate
INFINITE = 0xFF  # MxRtyPassiveActivation default: retry for ever (7.3.1)


def response_frame(command: int, params: bytes) -> bytes:
    return frame(PN532_TO_HOST, command + 1, params)


class Pn532Model:
    def __init__(self, port, asleep: bool = False, busy_nack: bool = True):
        self.port = port
        self.field = Field()
        self.asleep = asleep
        self.busy_nack = busy_nack
        self.sam_done = False  # LowVbat mode until SAMConfiguration (7.2.10)
        self.retries = INFINITE
        self._wake_at = 0
        self._out: list = []  # frames to the host: [ready_at_us, bytes]
        self._busy: Any = None  # the running command: [code, params, due_us or None]
        self.commands = 0
        self.refused = 0  # commands written over an unfinished one
        self.nacks = 0

    def attach(self) -> None:
        self.port.i2c_devices[ADDRESS] = self

    # -- I2C -------------------------------------------------------------------

    def _bus_check(self) -> None:
        now = self.port.now_us()
        if self.asleep:
            self.asleep = False
            self._wake_at = now + WAKE_US
            self.nacks += 1
            raise OSError(ENODEV)
        if now < self._wake_at:
            self.nacks += 1
            raise OSError(ENODEV)
        self._run()

    def i2c_write(self, data: bytes) -> None:
        self._bus_check()
        if data == ACK:
            self._busy = None  # abort (6.2.1.3)
            self._out = []
            return
        if self._busy is not None:
            self.refused += 1
            self.nacks += 1
            raise OSError(ETIMEDOUT)
        parsed = self._parse(data)
        if parsed is None:
            return  # a broken frame is ignored: no ACK ever comes
        self.commands += 1
        now = self.port.now_us()
        self._out = [[now + ACK_US, ACK]]
        self._busy = [parsed[0], parsed[1], None]
        self._schedule(now + ACK_US)

    def i2c_read(self, n: int) -> bytes:
        self._bus_check()
        now = self.port.now_us()
        if self._out and self._out[0][0] <= now:
            # The status byte alone leaves the frame there (6.2.4: the host
            # polls it, then reads status and frame in one go).
            ready = self._out.pop(0)[1] if n > 1 else b""
            data = b"\x01" + ready
        elif self._busy is not None and self.busy_nack and not self._out:
            self.nacks += 1
            raise OSError(ETIMEDOUT)  # executing: SCL held low past the timeout
        else:
            data = b"\x00"
        return (data + bytes(n))[:n]

    @staticmethod
    def _parse(data: bytes):
        parsed = parse(data)
        if parsed is None or parsed[0] != HOST_TO_PN532:
            return None
        return parsed[1], parsed[2]

    def _schedule(self, ack_at: int) -> None:
        if self._busy[0] == 0x4A:
            self._busy[2] = self._activation_due(ack_at)
        else:
            self._busy[2] = ack_at + ANSWER_US

    def _activation_due(self, start: int):
        if self.field.card is not None and self.sam_done:
            return start + 2000
        if self.retries == INFINITE:
            return None  # until a card comes, or the host aborts
        return start + (self.retries + 1) * ATTEMPT_US

    def _run(self) -> None:
        """Finish the running command if its time has come."""
        busy = self._busy
        if busy is None:
            return
        now = self.port.now_us()
        code, params, due = busy
        if code == 0x4A and due is None and self.field.card is not None and self.sam_done:
            due = busy[2] = now  # a card came while it kept trying
        if due is None or now < due:
            return
        self._busy = None
        self._out.append([due, self._answer(code, params)])

    def _answer(self, code: int, params: bytes) -> bytes:
        if code == 0x02:
            return response_frame(code, FIRMWARE)
        if code == 0x14:
            self.sam_done = True
            return response_frame(code, b"")
        if code == 0x32:
            if len(params) >= 4 and params[0] == 0x05:
                self.retries = params[3]
            return response_frame(code, b"")
        if code == 0x4A:
            return response_frame(code, self._list_target())
        return ERROR_FRAME

    def _list_target(self) -> bytes:
        card = self.field.card
        if card is None or not self.sam_done:
            return b"\x00"
        card.receive(bytes((HLTA, 0)) + crc_a(bytes((HLTA, 0))))  # release the previous target
        if card.receive(bytes((WUPA,)), 7) is None:
            return b"\x00"
        sak = 0
        for level in range(card.levels()):
            part = card.level_bytes(level)
            bcc = part[0] ^ part[1] ^ part[2] ^ part[3]
            select = bytes((SEL[level], 0x70)) + part + bytes((bcc,))
            answer = card.receive(select + crc_a(select))
            if answer is None:
                return b"\x00"
            sak = answer[0][0]
        uid = card.uid
        return b"\x01\x01" + bytes((card.atqa[1], card.atqa[0], sak, len(uid))) + uid
