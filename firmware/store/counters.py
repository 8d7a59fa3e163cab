# Cumulative counters on flash, appended as fixed-size records with a CRC to
# two files used in turn: LittleFS levels wear across its blocks by itself,
# appends cost one block write each, and a power cut mid-write leaves a torn
# last record that the CRC rejects, so the previous record wins. Loading picks
# the valid record with the highest generation.
#
# When to save is the caller's policy (see SavePolicy); what is lost on a
# power cut is what accumulated since the last save.
import binascii
import struct

from firmware.store import fsutil

MAGIC = 0x434E5457  # "WTNC"
RECORDS_PER_FILE = 256


class CounterStore:
    def __init__(self, folder: str, slots: tuple, fs=None):
        """slots: names of the u64 values kept, in a fixed order."""
        self.fs = fs or fsutil.FS
        self.slots = slots
        self.paths = (folder + "/counters.a", folder + "/counters.b")
        self._fmt = "<II%dQ" % len(slots)
        self._body = struct.calcsize(self._fmt)
        self.record_size = self._body + 4
        self._buf = bytearray(self.record_size)
        self.generation = 0
        self._file = 0

    def load(self) -> dict:
        """-> the newest valid values (zeros on a fresh board)."""
        best = None
        best_gen = -1
        for k in range(2):
            data = self.fs.read(self.paths[k])
            if not data:
                continue
            n = len(data) // self.record_size
            for r in range(n - 1, -1, -1):
                rec = memoryview(data)[r * self.record_size : (r + 1) * self.record_size]
                values = self._decode(rec)
                if values is not None:
                    if values[1] > best_gen:
                        best_gen = values[1]
                        best = values
                        self._file = k
                    break
        out = {}
        for i, name in enumerate(self.slots):
            out[name] = best[2 + i] if best is not None else 0
        self.generation = best_gen if best_gen >= 0 else 0
        return out

    def _decode(self, rec):
        crc = struct.unpack_from("<I", rec, self._body)[0]
        if binascii.crc32(rec[: self._body]) != crc:
            return None
        values = struct.unpack_from(self._fmt, rec, 0)
        if values[0] != MAGIC:
            return None
        return values

    def save(self, values: dict) -> None:
        self.generation += 1
        args = [values.get(name, 0) for name in self.slots]
        struct.pack_into(self._fmt, self._buf, 0, MAGIC, self.generation, *args)
        crc = binascii.crc32(memoryview(self._buf)[: self._body])
        struct.pack_into("<I", self._buf, self._body, crc)
        path = self.paths[self._file]
        used = self.fs.size(path)
        if used >= RECORDS_PER_FILE * self.record_size or used % self.record_size:
            # Switch files (full, or ends in a torn record): the other one
            # starts afresh, this one keeps the last good record until the new
            # file has one of its own.
            self._file ^= 1
            path = self.paths[self._file]
            self.fs.remove(path)
        self.fs.append(path, self._buf)


class SavePolicy:
    """Save when the energy since the last save reaches `wh`, or `ms` have
    passed with any change, or `msgs` messages were numbered. So a power cut
    loses at most `wh` Wh and at most `ms` of on-time or pulse counting."""

    def __init__(self, wh: int, ms: int, msgs: int):
        self.wh = wh
        self.ms = ms
        self.msgs = msgs
        self.saved_wh = 0
        self.saved_seq = 0
        self.saved_at = 0
        self.saved_sig = None

    def due(self, now_ms: int, wh: int, seq: int, signature) -> bool:
        if wh - self.saved_wh >= self.wh or seq - self.saved_seq >= self.msgs:
            return True
        return now_ms - self.saved_at >= self.ms and signature != self.saved_sig

    def mark(self, now_ms: int, wh: int, seq: int, signature) -> None:
        self.saved_wh = wh
        self.saved_seq = seq
        self.saved_at = now_ms
        self.saved_sig = signature
