# The flash-backed outbox: every telemetry and event message is appended here
# first and removed only when the broker has acknowledged it (QoS 1), so a
# network outage or a power cut loses nothing that fits.
#
# Layout: segment files of SEGMENT fixed-size records, numbered by absolute
# record number r (segment r // SEGMENT, slot r % SEGMENT); appends only, as
# LittleFS wants. The tail (oldest unacknowledged record) is appended to a
# small log every TAIL_EVERY acks and when a segment is finished, so after a
# power cut at most TAIL_EVERY acknowledged messages are sent again: a
# duplicate with the same seq and ts, which the server overwrites.
# When full, the oldest segment is deleted and its unsent records are counted
# in `dropped`.
#
# Deferred mode (the node's): appends go to a small RAM buffer and reach the
# flash in one write when the node's flash task calls flush(). On LittleFS
# every append to a partly filled 4 KB block is an erase and a copy (~45 ms,
# up to ~400 ms) that blocks the whole board; the records a badge produces
# (decision, session start) then cost one such write, in a task of its own,
# not two inside the badge path. Records in RAM are read (sent) like the
# others, and once every one of them is acknowledged they are dropped
# unwritten: connected, the broker's PUBACK comes long before the flash
# task's turn, so a node at work writes no message to flash at all. The
# numbering then goes on at the next segment boundary, where a record
# written later starts its own file. A power cut loses what waits in RAM
# unacknowledged: at most PENDING records.
import binascii
import struct

from firmware.store import fsutil

RECORD = 256
HEADER = 8  # u16 length, u8 channel, u8 tag, u32 crc32 of the payload
MAX_PAYLOAD = RECORD - HEADER
SEGMENT = 64
PENDING = 4  # records buffered in RAM in deferred mode (1 KB)
TAIL_EVERY = 16
TAIL_LOG_MAX = 4096

CHANNELS = ("", "telemetry", "event")


class Outbox:
    def __init__(self, folder: str, capacity: int = 2048, fs=None, deferred: bool = False):
        """capacity in records, rounded up to whole segments; deferred: see
        above (appends and tail saves wait for flush())."""
        self.fs = fs or fsutil.FS
        self.folder = folder + "/outbox"
        self.fs.makedirs(self.folder)
        self.deferred = deferred
        self._pending = bytearray(PENDING * RECORD if deferred else 0)
        self._queued = 0
        self._tail_due = False
        self.max_segments = max(2, (capacity + SEGMENT - 1) // SEGMENT)
        self.capacity = self.max_segments * SEGMENT
        self._buf = bytearray(RECORD)
        self._view = memoryview(self._buf)
        self.dropped = 0
        self.last_tag = 0  # tag of the record last read
        self.oversize = 0
        self._acked_since_save = 0
        self._load()

    # -- state on flash -----------------------------------------------------

    def _seg_path(self, seg: int) -> str:
        return "%s/%08d" % (self.folder, seg)

    def _segments(self) -> list:
        names = []
        for name in self.fs.listdir(self.folder):
            if len(name) == 8 and name.isdigit():
                names.append(int(name))
        names.sort()
        return names

    def _load(self) -> None:
        logged = 0
        data = self.fs.read(self.folder + "/tail")
        if data:
            for k in range(len(data) // 8 - 1, -1, -1):
                r, check = struct.unpack_from("<II", data, k * 8)
                if check == r ^ 0x5A5A5A5A:
                    logged = r
                    break
        segs = self._segments()
        if not segs:
            # Everything was delivered: keep numbering where it was, at a
            # segment boundary, so that the logged tail stays meaningful.
            self.head = (logged + SEGMENT - 1) // SEGMENT * SEGMENT
            self.tail = self.head
            self.first_seg = self.head // SEGMENT
            return
        self.first_seg = segs[0]
        last = segs[-1]
        size = self.fs.size(self._seg_path(last))
        if size % RECORD:
            # A record torn by a power cut: continue in the next segment
            # rather than rewrite the file in place.
            self.head = (last + 1) * SEGMENT
        else:
            self.head = last * SEGMENT + size // RECORD
        self.tail = max(self.first_seg * SEGMENT, min(logged, self.head))

    def _save_tail(self) -> None:
        path = self.folder + "/tail"
        rec = struct.pack("<II", self.tail, self.tail ^ 0x5A5A5A5A)
        if self.fs.size(path) >= TAIL_LOG_MAX:
            self.fs.write_atomic(path, rec)
        else:
            self.fs.append(path, rec)
        self._acked_since_save = 0
        self._tail_due = False

    # -- producer -----------------------------------------------------------

    def append(self, channel: str, payload, tag: int = 0) -> bool:
        """Queue one encoded message. False (and counted) when it does not fit
        a record; the caller keeps messages short enough. `tag` (0-255) is
        kept with the record for the caller (the boot that stamped it with an
        untrusted clock, see app.py)."""
        n = len(payload)
        if n > MAX_PAYLOAD:
            self.oversize += 1
            return False
        if not self.deferred:
            self._encode(self._buf, 0, channel, payload, tag)
            self._write(self._buf, 1)
            return True
        if self._queued == PENDING or (self._queued and (self.head + self._queued) % SEGMENT == 0):
            self.flush()  # full, or the next record starts a new segment file
        self._encode(self._pending, self._queued * RECORD, channel, payload, tag)
        self._queued += 1
        return True

    def flush(self) -> bool:
        """Deferred mode: the queued records (one write) and a due tail save.
        -> True when records were written."""
        wrote = self._queued
        if wrote:
            self._queued = 0
            self._write(memoryview(self._pending)[: wrote * RECORD], wrote)
        if self._tail_due:
            self._save_tail()
        return wrote > 0

    def _encode(self, buf, at: int, channel: str, payload, tag: int) -> None:
        n = len(payload)
        struct.pack_into("<HBBI", buf, at, n, CHANNELS.index(channel), tag, binascii.crc32(payload))
        buf[at + HEADER : at + HEADER + n] = payload
        for k in range(at + HEADER + n, at + RECORD):
            buf[k] = 0

    def _write(self, data, count: int) -> None:
        seg = self.head // SEGMENT
        if self.head % SEGMENT == 0:
            self._make_room(seg)
        self.fs.append(self._seg_path(seg), data)
        self.head += count

    def _make_room(self, new_seg: int) -> None:
        while new_seg - self.first_seg >= self.max_segments:
            gone_end = (self.first_seg + 1) * SEGMENT
            if self.tail < gone_end:
                self.dropped += gone_end - self.tail
                self.tail = gone_end
                self._save_tail()
            self.fs.remove(self._seg_path(self.first_seg))
            self.first_seg += 1

    # -- consumer -----------------------------------------------------------

    def pending(self) -> int:
        return self.head + self._queued - self.tail

    def end(self) -> int:
        """One past the last record numbered, on flash or still in RAM."""
        return self.head + self._queued

    def read(self, r: int):
        """Record number r -> (channel, memoryview of the payload) or None when
        it is gone or corrupt. The view is valid until the next read."""
        if r < self.tail or r >= self.head + self._queued:
            return None
        if r >= self.head:  # not written yet
            at = (r - self.head) * RECORD
            self._buf[:] = memoryview(self._pending)[at : at + RECORD]
        elif self.fs.read_into(self._seg_path(r // SEGMENT), (r % SEGMENT) * RECORD,
                               self._buf) != RECORD:
            return None
        n, ch, tag, crc = struct.unpack_from("<HBBI", self._buf, 0)
        payload = self._view[HEADER : HEADER + n]
        if n > MAX_PAYLOAD or ch >= len(CHANNELS) or binascii.crc32(payload) != crc:
            return None
        self.last_tag = tag
        return CHANNELS[ch], payload

    def ack_to(self, r: int) -> None:
        """Every record before r is delivered."""
        if r <= self.tail:
            return
        old_seg = self.tail // SEGMENT
        self._acked_since_save += r - self.tail
        end = self.head + self._queued
        self.tail = min(r, end)
        if self._queued and self.tail == end:
            # Everything is delivered, the records in RAM too: they are
            # never written, and the next record starts a segment file.
            self._queued = 0
            self.head = self.tail = (end + SEGMENT - 1) // SEGMENT * SEGMENT
        new_seg = self.tail // SEGMENT
        for seg in range(max(old_seg, self.first_seg), new_seg):
            if seg < self.head // SEGMENT:
                self.fs.remove(self._seg_path(seg))
                self.first_seg = seg + 1
        if self.tail == self.head and self.head % SEGMENT == 0:
            # No segment file is left: there is no tail to log.
            self.first_seg = self.head // SEGMENT
            self._acked_since_save = 0
            self._tail_due = False
            return
        if new_seg != old_seg or self._acked_since_save >= TAIL_EVERY:
            if self.deferred:
                self._tail_due = True  # written by flush(), off the receive path
            else:
                self._save_tail()
