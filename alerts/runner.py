"""The evaluation loop: every interval, fetch, run the rules, update the alerts,
hand new notifications to the dispatcher. Run exactly one instance."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from alerts import lifecycle
from alerts.config import ConfigError, RulesConfig, load_rules
from alerts.delivery import Dispatcher, EmailChannel, MqttChannel, RetryPolicy, WebhookChannel
from alerts.delivery.message import Channel
from alerts.evaluate import findings, held
from alerts.findings import Finding
from alerts.gateways import GatewayWatch
from alerts.queries import fetch
from alerts.rules import gateway
from alerts.settings import Settings
from alerts.timeline import alert_lines
from timeseries import InfluxClient, InfluxError

log = logging.getLogger(__name__)


class AlertService:
    def __init__(
        self,
        source: InfluxClient,
        config: RulesConfig,
        sessions: Callable[[], Session],
        dispatcher: Dispatcher,
        *,
        timeline: InfluxClient | None = None,
        gateways: GatewayWatch | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self.sessions = sessions
        self.dispatcher = dispatcher
        # Where the alert states are written: the alerts' own database (None: nowhere).
        self.timeline = timeline
        # The gateways' statuses from the broker (None: not watched).
        self.gateways = gateways
        self.heartbeat_file: Path | None = None

    def evaluate_once(self, now_ms: int | None = None) -> tuple[list[Finding], list[int]]:
        """One pass at `now_ms` (default: the clock). Returns the findings and
        the ids of the deliveries it created; blocking (call it in a thread).
        Raises InfluxError, having recorded nothing, when InfluxDB does not answer."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        snapshot = fetch(self.source, self.config, now_ms)
        found = findings(snapshot, self.config) + self._gateway_findings()
        return found, self._record(found, now_ms, held(snapshot, self.config),
                                   lambda kind: kind != gateway.KIND or self._gateways_known())

    def evaluate_gateways(self, now_ms: int | None = None) -> tuple[list[Finding], list[int]]:
        """The pass when InfluxDB does not answer: the gateways' alerts alone,
        from the broker; every other open alert stays as it is."""
        if self.gateways is None:
            return [], []
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        found = self._gateway_findings()
        # Their states are not written: InfluxDB just failed, and a hanging one
        # would hold the pass for another timeout.
        return found, self._record(found, now_ms, frozenset(),
                                   lambda kind: kind == gateway.KIND and self._gateways_known(),
                                   write_states=False)

    def _gateway_findings(self) -> list[Finding]:
        return gateway.evaluate(self.gateways.statuses()) if self.gateways is not None else []

    def _gateways_known(self) -> bool:
        """Whether a gateway's silence says its spool has room: not while the
        broker's statuses are out of reach (its alerts are held then)."""
        return self.gateways is None or self.gateways.current

    def _record(self, found: list[Finding], now_ms: int, keep: Collection[str],
                judged: Callable[[str], bool], write_states: bool = True) -> list[int]:
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        with self.sessions() as session:
            outcome = lifecycle.apply(session, found, now, self.config.lifecycle,
                                      self.dispatcher.channel_names, keep, judged)
            lines = alert_lines(outcome.changed, now_ms)
        if self.timeline is None or not write_states:
            return outcome.deliveries
        try:
            self.timeline.write_lines(lines)
        except InfluxError as exc:  # the graphs lag; alerting itself goes on
            log.warning("alert states not written to InfluxDB: %s", exc)
        return outcome.deliveries

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        self.dispatcher.start()
        if self.gateways is not None:
            self.gateways.start()
        with self.sessions() as session:
            self.dispatcher.submit(lifecycle.pending_deliveries(session))
        try:
            while not stop.is_set():
                try:
                    try:
                        _, ids = await asyncio.to_thread(self.evaluate_once)
                        if self.heartbeat_file is not None:
                            self.heartbeat_file.touch()
                    except InfluxError as exc:
                        log.warning("evaluation skipped: %s", exc)
                        _, ids = await asyncio.to_thread(self.evaluate_gateways)
                    self.dispatcher.submit(ids)
                except Exception:  # e.g. the database away: try again next round
                    log.exception("evaluation failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)
        finally:
            if self.gateways is not None:
                await asyncio.to_thread(self.gateways.stop)
            await self.dispatcher.stop()


def channels_from(settings: Settings) -> list[Channel]:
    channels: list[Channel] = []
    for i, hook in enumerate(settings.webhooks, start=1):
        channels.append(WebhookChannel(f"webhook:{hook.name or i}", hook.url, hook.ntfy_topic))
    if settings.smtp_host:
        channels.append(EmailChannel(
            settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_to,
            settings.smtp_username, settings.smtp_password, settings.smtp_starttls,
        ))
    if settings.mqtt_host:
        channels.append(MqttChannel(settings, settings.mqtt_prefix))
    return channels


def build(settings: Settings, channels: Sequence[Channel] | None = None) -> AlertService:
    engine = create_engine(settings.database_url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    source = InfluxClient(settings)
    policy = RetryPolicy(
        settings.retry_first_delay_s, settings.retry_max_delay_s, settings.retry_max_attempts
    )
    dispatcher = Dispatcher(
        channels if channels is not None else channels_from(settings), sessions, policy
    )
    # The broker login that sends MQTT alerts also reads the gateways' statuses.
    gateways = GatewayWatch(settings) if settings.mqtt_host else None
    service = AlertService(source, load_rules(settings.rules_file), sessions, dispatcher,
                           timeline=InfluxClient(settings.timeline_settings()), gateways=gateways)
    service.heartbeat_file = settings.heartbeat_file
    return service


async def _main(settings: Settings) -> None:
    service = build(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("alerts: evaluating every %.0f s on %d channel(s)",
             settings.interval_s, len(service.dispatcher.channels))
    await service.run(settings.interval_s, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alerts", description=__doc__)
    parser.add_argument("--replay", nargs=2, metavar=("FROM", "TO"),
                        help="evaluate the past window FROM..TO (ISO 8601, e.g. "
                             "2026-01-10T06:00:00Z) every ALERTS_INTERVAL_S as the service "
                             "would have, notify, and exit (alerts/replay.py)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings()
        load_rules(settings.rules_file)  # refuse a bad thresholds file before anything runs
    except (ConfigError, ValidationError) as exc:
        print(f"alerts: {exc}", file=sys.stderr)
        return 2
    if args.replay:
        from alerts import replay  # it builds on this module

        try:
            start, end = (replay.parse_moment(moment) for moment in args.replay)
            times = replay.moments(start, end, settings.interval_s)
        except replay.ReplayError as exc:
            print(f"alerts: --replay: {exc}", file=sys.stderr)
            return 2
        done = asyncio.run(replay.replay(build(settings), times,
                                         lambda line: print(f"alerts: {line}", flush=True)))
        print(f"alerts: replayed {done.evaluations} evaluations from {args.replay[0]} to "
              f"{args.replay[1]}; notices sent {done.sent}, failed {done.failed}", flush=True)
        return 0 if done.failed == 0 else 1
    asyncio.run(_main(settings))
    return 0
