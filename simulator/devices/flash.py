# A model of the node's flash: LittleFS on the 4 MB SPI NOR chip of an
# ESP32-WROOM-32E: the firmware's own file calls (firmware/store/fsutil.Fs,
# so write_atomic and the stores run unchanged) over a real folder, with the
# primitives charged and cut. It charges the time LittleFS takes and can lose power.
#
# Time (chip datasheet, e.g. W25Q32JV: sector erase 45 ms typical, 400 ms
# max; page program 0.7 ms typical, 3 ms max): LittleFS writes copy-on-write,
# so an append to a file whose last 4 KB block is partly filled erases a new
# block and copies the old part into it before writing; each further block
# is erased too, and every close commits the file's metadata (one page).
# Erasing the metadata pair when it fills (compaction) is folded into the
# commit cost. Reads are charged nothing (they are ~100x faster).
#
# Power: LittleFS commits a file on close and a rename atomically, so a cut
# during any operation leaves the file system as it was before it. The model
# counts mutating operations; with `cut_at = k` the k-th does not happen and
# PowerCut (a BaseException: no firmware handler may swallow it) is raised.
# `cut_file = name` cuts instead at the next operation on a file of that
# name (a rename onto it counts: that is the commit of write_atomic), "*" at
# the next operation of any kind; `on_cut()` is called first (the simulator
# powers the node off there). While `off` (the board has no power) every
# mutating operation raises PowerCut: code still unwinding writes nothing.
#
# Runs under MicroPython too (the firmware's checks use it there): no typing
# at run time, no dataclasses.
from firmware.store.fsutil import Fs

try:
    from typing import Any  # only for the type checker; absent on MicroPython
except ImportError:
    pass

BLOCK = 4096
PAGE = 256


class PowerCut(BaseException):
    pass


class Flash(Fs):
    def __init__(self, erase_ms: float = 45.0, program_ms: float = 0.7, charge=None):
        """charge(ms), when given, is called with the time of each operation
        (e.g. to advance a virtual clock); busy_ms adds them all up."""
        self.erase_ms = erase_ms
        self.program_ms = program_ms
        self.charge = charge
        self.busy_ms = 0.0
        self.ops = 0  # mutating operations so far
        self.cut_at = -1  # the operation number that loses power (-1: never)
        self.cut_file: Any = None  # or a file name, "*" for any: see above (once)
        self.on_cut: Any = None
        self.off = False
        self.erases = 0

    # -- the model ------------------------------------------------------------

    def _mutate(self, path: str, target: str = "") -> None:
        if self.off:
            raise PowerCut("no power")
        self.ops += 1
        name = self.cut_file
        hit = name is not None and (name == "*" or _name(path) == name or _name(target) == name)
        if self.ops == self.cut_at or hit:
            self.cut_file = None
            if self.on_cut is not None:
                self.on_cut()
            raise PowerCut("power lost at flash operation %d (%s)" % (self.ops, target or path))

    def _cost(self, erases: int, program_bytes: int) -> None:
        pages = (program_bytes + PAGE - 1) // PAGE + 1  # + the metadata commit
        ms = erases * self.erase_ms + pages * self.program_ms
        self.erases += erases
        self.busy_ms += ms
        if self.charge is not None:
            self.charge(ms)

    def _write_cost(self, old_size: int, n: int) -> None:
        partial = old_size % BLOCK if old_size > 0 else 0
        blocks = (partial + n + BLOCK - 1) // BLOCK
        self._cost(blocks, partial + n)

    # -- the primitives of fsutil.Fs, charged and cut ---------------------------

    def mkdir(self, path: str) -> None:
        self._mutate(path)
        Fs.mkdir(self, path)
        self._cost(0, 0)

    def remove(self, path: str) -> None:
        if not self.exists(path):
            return
        self._mutate(path)
        Fs.remove(self, path)
        self._cost(0, 0)

    def append(self, path: str, data) -> None:
        old = max(0, self.size(path))
        self._mutate(path)
        Fs.append(self, path, data)
        self._write_cost(old, len(data))

    def write(self, path: str, data) -> None:
        self._mutate(path)
        Fs.write(self, path, data)
        self._write_cost(0, len(data))

    def rename(self, old: str, new: str) -> None:
        self._mutate(old, new)
        Fs.rename(self, old, new)
        self._cost(0, 0)


def _name(path: str) -> str:
    return path[path.rfind("/") + 1:]
