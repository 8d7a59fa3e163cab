"""python -m simulator (--scenario FILE | --configs DIR) [--speed N] [--fast] [--live ...]
[--mqtt-ca FILE] ..."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from simulator.fleet import Fleet
from simulator.live import DAY_S, live_part, report_days, save_clock, start_ms
from simulator.scenario import Scenario, ScenarioError, load_configs
from simulator.vloop import VirtualTimeLoop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    p.add_argument("--scenario", help="scenario JSON (see simulator/scenario.py)")
    p.add_argument("--configs", type=Path,
                   help="folder of node config.json files (e.g. the api's `node-config`): the "
                        "nodes run from these; the scenario, if given, adds the world")
    p.add_argument("--speed", type=float, default=None,
                   help="virtual seconds per real second while a node is connected "
                        "(default: the scenario's, else 1)")
    p.add_argument("--duration", type=float, default=None, help="virtual seconds to run")
    p.add_argument("--fast", action="store_true",
                   help="skip ahead whenever no node waits for the broker: a connected week "
                        "runs in minutes (round trips still take their scaled real time)")
    p.add_argument("--live", action="store_true",
                   help="end in the present and stay there: the history at the fast clock, "
                        "then the real clock (readings stamped with real times) until stopped")
    p.add_argument("--history-days", type=float, default=0.0,
                   help="with --live: start this many days ago (or where the last live run in "
                        "--workdir stopped, if later)")
    p.add_argument("--boiler-fails-after", type=float, default=None, metavar="S",
                   help="with --live: the boiler fails S seconds into the live part, as the "
                        "heating schedule steps up (the thermostat calls at once)")
    p.add_argument("--mqtt-host", default=None)
    p.add_argument("--mqtt-port", type=int, default=None)
    p.add_argument("--mqtt-ca", type=Path, default=None,
                   help="the site CA's certificate: the nodes connect with TLS, trusting only "
                        "it (port 8883 unless --mqtt-port)")
    p.add_argument("--device-password", default=None, help="MQTT password of every device")
    p.add_argument("--workdir", default=None, help="folder for the nodes' flash (kept across runs)")
    p.add_argument("--usage-out", type=Path, default=None, metavar="FILE",
                   help="append one JSON line per machine run (power on to off) as it ends: "
                        "device, the card that opened it, start_ms, end_ms, and the Wh its "
                        "load drew (the load model's truth, not the node's counter)")
    p.add_argument("--acl-user", default=None,
                   help="publish the scenario's ACLs as this MQTT user (normally the api does)")
    p.add_argument("--acl-password", default="")
    args = p.parse_args(argv)
    if not args.scenario and not args.configs:
        p.error("give --scenario, --configs or both")
    if not args.live and (args.history_days or args.boiler_fails_after is not None):
        p.error("--history-days and --boiler-fails-after go with --live")
    return args


def publish_acls(scenario: Scenario, host: str, port: int, user: str, password: str,
                 ca_file: Path | None = None) -> None:
    import paho.mqtt.publish as publish

    messages: list[Any] = [{"topic": topic, "payload": payload, "qos": 1, "retain": True}
                           for topic, payload in scenario.acl_messages()]
    if messages:
        publish.multiple(messages, hostname=host, port=port,
                         auth={"username": user, "password": password},
                         tls={"ca_certs": str(ca_file)} if ca_file else None)


def load(args: argparse.Namespace) -> tuple[Scenario, dict[str, Any]]:
    configs = load_configs(args.configs) if args.configs else None
    if args.scenario:
        data = json.loads(Path(args.scenario).read_text())
    else:
        assert configs is not None
        data = {"nodes": [{"device": d, "role": c.get("role")} for d, c in configs.items()],
                "site": next(iter(configs.values())).get("site")}
    mqtt = data.setdefault("mqtt", {})
    if args.mqtt_host:
        mqtt["host"] = args.mqtt_host
    if args.mqtt_ca is not None:
        mqtt.update(tls=True, ca=args.mqtt_ca.read_text())
    if args.mqtt_port:
        mqtt["port"] = args.mqtt_port
    if args.device_password is not None:
        mqtt["password"] = args.device_password
    scenario = Scenario(data)
    if configs is not None:
        scenario.use_configs(configs)
    return scenario, data


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the run as Ctrl-C does: nodes off, summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        scenario, data = load(args)
    except (OSError, ValueError, ScenarioError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    speed = args.speed or float(data.get("speed", 1))
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="sim-"))
    workdir.mkdir(parents=True, exist_ok=True)
    duration = args.duration
    if args.live:
        scenario.start_unix_ms = start_ms(workdir, args.history_days * DAY_S,
                                          int(time.time() * 1000))
        if duration is None:  # until stopped: a year of the members' sessions is planned
            duration = (time.time() * 1000 - scenario.start_unix_ms) / 1000 + 366 * DAY_S
    if args.acl_user:
        mqtt = scenario.mqtt
        publish_acls(scenario, mqtt.get("host", "127.0.0.1"),
                     int(mqtt.get("port", 8883 if args.mqtt_ca else 1883)),
                     args.acl_user, args.acl_password, args.mqtt_ca)
    loop = VirtualTimeLoop(speed=speed)
    fleet = Fleet(scenario, workdir)
    usage = args.usage_out.open("a") if args.usage_out else None
    if usage is not None:
        def write_usage(record: dict[str, Any]) -> None:
            usage.write(json.dumps(record) + "\n")
            usage.flush()

        fleet.usage_sink = write_usage
    if args.fast or args.live:
        loop.quiet = fleet.quiet
    print(f"simulator: {len(fleet.nodes)} nodes, site {scenario.site}, speed {speed}x, "
          f"flash in {workdir}", flush=True)
    signal.signal(signal.SIGTERM, _stop)

    def say(line: str) -> None:
        print("simulator:", line, flush=True)

    async def run() -> None:
        if not args.live:
            days = asyncio.ensure_future(report_days(fleet, say))
            try:
                await fleet.run_scenario(duration)
            finally:
                days.cancel()
            return
        tasks = {asyncio.ensure_future(fleet.run_scenario(duration)),
                 asyncio.ensure_future(
                     live_part(loop, fleet, workdir, args.boiler_fails_after, say))}
        # The live part never ends by itself: the run ends with the scenario's
        # duration, or at once if either fails.
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            task.result()

    try:
        loop.run_until_complete(run())
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        loop.run_until_complete(fleet.shutdown())
        if args.live:
            save_clock(workdir, fleet.unix_ms())
        for line in fleet.summary_lines:
            say(line)
        if usage is not None:
            usage.close()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
