# Entry point on the board (deployed as /main.py): read the config, build the
# hardware, run the node; on a config error run the safe mode; on an
# unexpected exception, print it, wait and reset, so a transient fault does
# not leave the node dead while a persistent one does not spin: the wait
# grows with each crash counted in RTC memory.
import asyncio
import gc
import sys

gc.collect()
from firmware import config  # noqa: E402

gc.collect()


def _crash_delay_s() -> int:
    try:
        import machine

        rtc = machine.RTC()
        count = (rtc.memory() or b"\x00")[0]
        rtc.memory(bytes((min(count + 1, 8),)))
        return 5 << count
    except (ImportError, OSError, AttributeError):
        return 5


def _forget(name: str) -> None:
    sys.modules.pop(name, None)
    package, _, attr = name.rpartition(".")
    parent = sys.modules.get(package)
    if parent is not None and hasattr(parent, attr):
        delattr(parent, attr)
    gc.collect()


def run() -> None:
    from firmware.drivers.board import Board

    cfg, errors = config.load()
    if not errors:
        _forget("firmware.config")  # the validator is not needed again: 7 KB back
    board = Board(cfg)
    board.start_outputs()
    try:
        if errors:
            from firmware.safemode import SafeMode

            board.start_safe()
            asyncio.run(SafeMode(cfg, errors, board).run())
        else:
            board.start()
            gc.collect()
            from firmware.app import Node

            gc.collect()
            asyncio.run(Node(cfg, board).run())
    except Exception as exc:
        board.outputs_off()
        sys.print_exception(exc)  # type: ignore[attr-defined]
        import time

        time.sleep(_crash_delay_s())
        board.reset()


run()
