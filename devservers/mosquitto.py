"""Mosquitto with passwords, an ACL, persistence and TCP_NODELAY."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path

from pydantic import SecretStr

from broker import MqttSettings
from devservers.process import ServerProcess, find_binary

# Devices may only touch their own topics; %u is the MQTT username, which is
# the device id. Service accounts get the whole tree.
DEVICE_ACL = """\
pattern write mf/+/%u/status
pattern write mf/+/%u/telemetry
pattern write mf/+/%u/event
pattern read mf/+/%u/acl
pattern read mf/+/%u/cmd
"""


class Mosquitto(ServerProcess):
    name = "mosquitto"

    def __init__(
        self,
        workdir: Path,
        users: dict[str, str],
        superusers: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        super().__init__(workdir, port)
        self.users = dict(users)
        self.superusers = tuple(superusers) or tuple(self.users)
        self.conf_path = self.workdir / "mosquitto.conf"

    def prepare(self) -> None:
        passwd = self.workdir / "passwd"
        passwd.write_text("")
        tool = find_binary("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
        for user, password in self.users.items():
            subprocess.run([tool, "-b", str(passwd), user, password], check=True)
        acl = self.workdir / "acl"
        acl.write_text(
            "".join(f"user {u}\ntopic readwrite #\n\n" for u in self.superusers) + DEVICE_ACL
        )
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        self.conf_path.write_text(
            f"""\
per_listener_settings false
# Run as whoever started us: as root, Mosquitto would otherwise switch to the
# `mosquitto` user, which cannot enter a private temporary folder.
user {getpass.getuser()}
allow_anonymous false
password_file {passwd}
acl_file {acl}
listener {self.port} {self.host}
set_tcp_nodelay true
persistence true
persistence_location {data}/
autosave_interval 1
# A persistent gateway session must keep everything sent while it is away.
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 100
log_dest stdout
log_type error
log_type warning
"""
        )
    def login(self, user: str) -> MqttSettings:
        """How a service logs in here as `user` (one of `users`)."""
        return MqttSettings(mqtt_host=self.host, mqtt_port=self.port, mqtt_username=user,
                            mqtt_password=SecretStr(self.users[user]))

    def command(self) -> list[str]:
        return [find_binary("mosquitto", "/usr/sbin/mosquitto"), "-c", str(self.conf_path)]

    def add_user(self, user: str, password: str) -> None:
        """Adding a device login takes a config reload (SIGHUP), not a restart."""
        tool = find_binary("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
        subprocess.run([tool, "-b", str(self.workdir / "passwd"), user, password], check=True)
        self.users[user] = password
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(1)
