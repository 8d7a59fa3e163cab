# The few file-system calls the stores need, the same under MicroPython's
# LittleFS (on the board) and CPython (simulator, tests).
import os


def exists(path: str) -> bool:
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def size(path: str) -> int:
    try:
        return os.stat(path)[6]
    except OSError:
        return -1


def makedirs(path: str) -> None:
    current = "/" if path.startswith("/") else ""
    for name in path.split("/"):
        if not name:
            continue
        current = current + name if current in ("", "/") else current + "/" + name
        if not exists(current):
            os.mkdir(current)


def remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def write_atomic(path: str, data) -> None:
    """Whole-file replace for rare writes (ACL, config): a power cut leaves the
    old or the new file, never half of one."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    remove(path)
    os.rename(tmp, path)


def read(path: str):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None
