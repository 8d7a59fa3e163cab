# The file calls the stores make, in one object so that a node can be given
# another file system: the board's is LittleFS through MicroPython's os and
# open (the same calls as CPython's, for the simulator); the tests and the
# simulator can pass a flash model with the same methods, which charges
# LittleFS's time and can lose power between writes
# (simulator/devices/flash.py).
import os


class Fs:
    def exists(self, path: str) -> bool:
        try:
            os.stat(path)
            return True
        except OSError:
            return False

    def size(self, path: str) -> int:
        try:
            return os.stat(path)[6]
        except OSError:
            return -1

    def makedirs(self, path: str) -> None:
        current = "/" if path.startswith("/") else ""
        for name in path.split("/"):
            if not name:
                continue
            current = current + name if current in ("", "/") else current + "/" + name
            if not self.exists(current):
                self.mkdir(current)

    def mkdir(self, path: str) -> None:
        os.mkdir(path)

    def listdir(self, path: str) -> list:
        return os.listdir(path)

    def remove(self, path: str) -> None:
        try:
            os.remove(path)
        except OSError:
            pass

    def append(self, path: str, data) -> None:
        with open(path, "ab") as f:
            f.write(data)

    def write(self, path: str, data) -> None:
        with open(path, "wb") as f:
            f.write(data)

    def rename(self, old: str, new: str) -> None:
        os.rename(old, new)

    def write_atomic(self, path: str, data) -> None:
        """Whole-file replace for rare writes (ACL, config): a power cut leaves
        the old or the new file, never half of one and never none. LittleFS's
        rename replaces the target atomically, so it is not removed first."""
        tmp = path + ".tmp"
        self.write(tmp, data)
        self.rename(tmp, path)

    def read(self, path: str):
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError:
            return None

    def read_into(self, path: str, offset: int, buf) -> int:
        """Fills buf from offset; -> bytes read (0 when the file is gone)."""
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                return f.readinto(buf) or 0
        except OSError:
            return 0


FS = Fs()
