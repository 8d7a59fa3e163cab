"""`python -m gateway [--config FILE]`: MQTT -> InfluxDB until SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from pydantic import ValidationError

from gateway import logs
from gateway.service import Gateway
from gateway.settings import load_settings
from gateway.workers import Workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--config", help="TOML or JSON settings file (env GATEWAY_* wins)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except (ValidationError, OSError, ValueError) as exc:
        print(f"gateway: bad configuration: {exc}", file=sys.stderr)
        return 2
    logs.setup(settings.log_level)
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if settings.workers > 1:
        Workers(settings, sys.argv[1:] if argv is None else argv).run(stop)
    else:
        Gateway(settings).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
