# ISO/IEC 14443-3 type A framing both card readers need: CRC_A and the
# cascade tag. No I/O.
CASCADE_TAG = 0x88  # 6.5.4: first byte of a cascade level that is not the last


def crc_a(data) -> bytes:
    """CRC_A (Annex B): x^16 + x^12 + x^5 + 1, preset 0x6363, low byte first."""
    crc = 0x6363
    for byte in data:
        byte ^= crc & 0xFF
        byte = (byte ^ (byte << 4)) & 0xFF
        crc = (crc >> 8) ^ (byte << 8) ^ (byte << 3) ^ (byte >> 4)
    return bytes((crc & 0xFF, crc >> 8))
