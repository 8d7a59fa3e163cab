# ISO/IEC 14443-3 type A cards in a reader's field: the state machine both
# reader models (mfrc522, pn532) talk to. One card at a time (no collisions).
# CRC_A is the firmware's (checked against the standard's HLTA vector).
from firmware.logic.iso14443 import CASCADE_TAG, crc_a

IDLE, READY, ACTIVE, HALT = 0, 1, 2, 3
REQA, WUPA, HLTA = 0x26, 0x52, 0x50
SEL = (0x93, 0x95, 0x97)  # cascade levels 1, 2, 3
BIT_US = 9.44  # 106 kbit/s: 128 carrier periods of 13.56 MHz per bit
FDT_US = 91  # frame delay time PCD -> PICC, ~1236 / fc (ISO 14443-3 6.2.1.1)


def air_us(bits_out: int, bits_in: int) -> int:
    """Time on air for a command and its answer (each byte carries a parity bit)."""
    return int((bits_out + bits_in) * BIT_US * 9 / 8) + FDT_US


class Card:
    def __init__(self, uid, sak: int = 0x08):
        if len(uid) not in (4, 7, 10):
            raise ValueError("a UID has 4, 7 or 10 bytes")
        self.uid = bytes(uid)
        self.sak = sak  # 0x08 MIFARE Classic 1K, 0x00 Ultralight/NTAG
        # ATQA (ISO 14443-3 6.4.2): bits 8-7 give the UID size.
        self.atqa = bytes((0x04 | ((len(uid) // 3 - 1) << 6), 0x00))
        self.state = IDLE
        self.level = 0
        self.woken_from_halt = False

    def levels(self) -> int:
        return {4: 1, 7: 2, 10: 3}[len(self.uid)]

    def level_bytes(self, level: int) -> bytes:
        """The 4 UID bytes answered at a cascade level (CT first unless last)."""
        uid = self.uid
        if level == self.levels() - 1:
            part = uid[3 * level:3 * level + 4] if level else uid[:4]
        else:
            part = bytes((CASCADE_TAG,)) + uid[3 * level:3 * level + 3]
        return part

    def power_off(self) -> None:
        self.state = IDLE
        self.level = 0

    def _abandon(self):
        self.state = HALT if self.woken_from_halt else IDLE
        return None

    def receive(self, frame: bytes, last_bits: int = 0):
        """A frame from the reader (last_bits valid bits in the last byte, 0 =
        all) -> (answer bytes, valid bits in its last byte) or None."""
        if last_bits == 7 and len(frame) == 1:
            cmd = frame[0]
            if (cmd == WUPA and self.state in (IDLE, HALT)) or (cmd == REQA and self.state == IDLE):
                self.woken_from_halt = self.state == HALT
                self.state = READY
                self.level = 0
                return self.atqa, 0
            # ISO 14443-3 6.3: REQA/WUPA in READY or ACTIVE is not a valid
            # command there: the card drops back without answering.
            if self.state in (READY, ACTIVE):
                return self._abandon()
            return None
        if self.state == READY and len(frame) >= 2 and frame[0] == SEL[self.level]:
            part = self.level_bytes(self.level)
            bcc = part[0] ^ part[1] ^ part[2] ^ part[3]
            if frame[1] == 0x20 and len(frame) == 2:
                return part + bytes((bcc,)), 0
            if frame[1] == 0x70 and len(frame) == 9 and crc_a(frame[:7]) == frame[7:9]:
                if frame[2:6] != part or frame[6] != bcc:
                    return self._abandon()
                if self.level < self.levels() - 1:
                    self.level += 1
                    sak = 0x04  # cascade bit: the UID is not complete
                else:
                    self.state = ACTIVE
                    sak = self.sak
                return bytes((sak,)) + crc_a(bytes((sak,))), 0
            return self._abandon()
        if len(frame) == 4 and frame[0] == HLTA and frame[1] == 0 and crc_a(frame[:2]) == frame[2:]:
            if self.state in (READY, ACTIVE):
                self.state = HALT
            return None
        if self.state in (READY, ACTIVE):
            return self._abandon()
        return None


class Field:
    """The reader's RF field and the card held in it, if any."""

    def __init__(self):
        self.card = None
        self.placed_at_us = None
        self.changes = 0
        self.on_change = None  # called after a card came or went

    def put(self, card, now_us: int = 0) -> None:
        if self.card is not None:
            self.card.power_off()
        card.power_off()
        self.card = card
        self.placed_at_us = now_us
        self._changed()

    def remove(self) -> None:
        if self.card is not None:
            self.card.power_off()
        self.card = None
        self.placed_at_us = None
        self._changed()

    def _changed(self):
        self.changes += 1
        if self.on_change is not None:
            self.on_change()

    def exchange(self, frame: bytes, last_bits: int = 0):
        if self.card is None:
            return None
        return self.card.receive(frame, last_bits)
