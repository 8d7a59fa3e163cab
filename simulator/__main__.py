"""python -m simulator --scenario FILE [--speed N] [--fast] [--mqtt-host H] [--mqtt-port P]
[--mqtt-ca FILE] ..."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from simulator.fleet import Fleet
from simulator.scenario import Scenario, ScenarioError
from simulator.vloop import VirtualTimeLoop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    p.add_argument("--scenario", required=True, help="scenario JSON (see simulator/scenario.py)")
    p.add_argument("--speed", type=float, default=None,
                   help="virtual seconds per real second while a node is connected "
                        "(default: the scenario's, else 1)")
    p.add_argument("--duration", type=float, default=None, help="virtual seconds to run")
    p.add_argument("--fast", action="store_true",
                   help="skip ahead whenever no node waits for the broker: a connected week "
                        "runs in minutes (round trips still take their scaled real time)")
    p.add_argument("--mqtt-host", default=None)
    p.add_argument("--mqtt-port", type=int, default=None)
    p.add_argument("--mqtt-ca", type=Path, default=None,
                   help="the site CA's certificate: the nodes connect with TLS, trusting only "
                        "it (port 8883 unless --mqtt-port)")
    p.add_argument("--device-password", default=None, help="MQTT password of every device")
    p.add_argument("--workdir", default=None, help="folder for the nodes' flash (kept across runs)")
    p.add_argument("--acl-user", default=None,
                   help="publish the scenario's ACLs as this MQTT user (normally the api does)")
    p.add_argument("--acl-password", default="")
    return p.parse_args(argv)


def publish_acls(scenario: Scenario, host: str, port: int, user: str, password: str,
                 ca_file: Path | None = None) -> None:
    import paho.mqtt.publish as publish

    messages: list[Any] = [{"topic": topic, "payload": payload, "qos": 1, "retain": True}
                           for topic, payload in scenario.acl_messages()]
    if messages:
        publish.multiple(messages, hostname=host, port=port,
                         auth={"username": user, "password": password},
                         tls={"ca_certs": str(ca_file)} if ca_file else None)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data = json.loads(Path(args.scenario).read_text())
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
    except (OSError, ValueError, ScenarioError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    speed = args.speed or float(data.get("speed", 1))
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="sim-"))
    if args.acl_user:
        publish_acls(scenario, mqtt.get("host", "127.0.0.1"),
                     int(mqtt.get("port", 8883 if args.mqtt_ca else 1883)),
                     args.acl_user, args.acl_password, args.mqtt_ca)
    loop = VirtualTimeLoop(speed=speed)
    fleet = Fleet(scenario, workdir)
    if args.fast:
        loop.quiet = fleet.quiet
    print(f"simulator: {len(fleet.nodes)} nodes, site {scenario.site}, speed {speed}x, "
          f"flash in {workdir}", flush=True)
    try:
        loop.run_until_complete(fleet.run_scenario(args.duration))
    except KeyboardInterrupt:
        pass
    finally:
        loop.run_until_complete(fleet.shutdown())
        for line in fleet.summary_lines:
            print("simulator:", line, flush=True)
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
