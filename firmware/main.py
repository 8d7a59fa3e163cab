# Entry point on the board (deployed as /main.py): read the config, build the
# hardware, run the node; on a config error (or outputs that cannot be
# started) run the safe mode; on an unexpected exception, print it, wait and
# reset, so a transient fault does not leave the node dead while a persistent
# one does not spin: the wait grows with each crash counted in RTC memory
# (drivers/watchdog.py). Whatever ends the program (crash, Ctrl-C, SystemExit,
# safe mode) leaves the outputs off.
import asyncio
import gc
import sys


def _forget(name: str) -> None:
    sys.modules.pop(name, None)
    package, _, attr = name.rpartition(".")
    parent = sys.modules.get(package)
    if parent is not None and hasattr(parent, attr):
        delattr(parent, attr)
    gc.collect()


def load_config() -> tuple:
    """-> (config, errors). The validator is imported here and dropped again
    when the config is good: no global of this module keeps it (7 KB)."""
    from firmware import config

    cfg, errors = config.load()
    del config  # the last reference to the module, for _forget
    if not errors:
        _forget("firmware.config")
    return cfg, errors


def start_outputs(board, errors: list) -> list:
    """The outputs first (off), when the config is good; -> the errors, with
    a pin the port refuses among them (the safe mode, not the REPL)."""
    if errors:
        return errors
    try:
        board.start_outputs()
    except (ValueError, OSError, TypeError) as exc:
        return ["outputs: %s" % exc]
    return errors


def start(cfg: dict, errors: list, board):
    """Outputs first (off), then the rest; -> the coroutine to run."""
    errors = start_outputs(board, errors)
    if errors:
        from firmware.safemode import SafeMode

        board.start_safe()
        return SafeMode(cfg, errors, board).run()
    board.start()
    gc.collect()
    from firmware.app import Node

    gc.collect()
    return Node(cfg, board).run()


def run() -> None:
    from firmware.drivers.board import Board

    cfg, errors = load_config()
    board = Board(cfg)
    try:
        asyncio.run(start(cfg, errors, board))
    except Exception as exc:
        board.outputs_off()
        sys.print_exception(exc)  # type: ignore[attr-defined]
        from firmware.drivers import watchdog

        watchdog.sleep_fed(board.watchdog, watchdog.count_crash())
        board.reset()
    finally:
        board.outputs_off()  # also on Ctrl-C and SystemExit, which skip the handler


if __name__ == "__main__":
    run()
