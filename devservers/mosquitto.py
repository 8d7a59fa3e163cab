"""Mosquitto for the tests and the local stack: `Mosquitto` with a password
file, an ACL, persistence and TCP_NODELAY; `SiteMosquitto` as the site runs
it, from the shipped deploy/mosquitto/mosquitto.conf with the
dynamic-security plugin and its logins (broker.accounts), its plain listener
on loopback and its TLS listener with a certificate of a site CA. Both carry
the shipped message size limit."""

from __future__ import annotations

import getpass
import glob
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from broker import MqttSettings, PasswordHash
from broker.accounts import device_accounts, merged, service_accounts
from broker.control import DynsecControl
from deploy import tls
from devservers.process import ServerProcess, find_binary, free_port
from protocol import wire

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"
# Where the shipped configuration expects the broker's data volume.
DATA_VOLUME = "/mosquitto/data"
# Its two listeners: plain MQTT on loopback, MQTT over TLS for everyone else.
PLAIN_PORT, TLS_PORT = 1883, 8883
# The names a test broker's certificate holds.
LOCAL_NAMES = ("localhost", "127.0.0.1")

# Devices may only touch their own topics; %u is the MQTT username, which is
# the device id. Service accounts get the whole tree.
DEVICE_ACL = """\
pattern write mf/+/%u/status
pattern write mf/+/%u/telemetry
pattern write mf/+/%u/event
pattern read mf/+/%u/acl
pattern read mf/+/%u/cmd
"""


class MosquittoProcess(ServerProcess):
    """A Mosquitto child process and the passwords of the logins it knows."""

    name = "mosquitto"

    def __init__(self, workdir: Path, users: Mapping[str, str], port: int | None = None) -> None:
        super().__init__(workdir, port)
        self.users = dict(users)
        self.conf_path = self.workdir / "mosquitto.conf"

    def login(self, user: str) -> MqttSettings:
        """How a service logs in here as `user` (one of `users`)."""
        return MqttSettings(mqtt_host=self.host, mqtt_port=self.port, mqtt_username=user,
                            mqtt_password=SecretStr(self.users[user]))

    def command(self) -> list[str]:
        return [find_binary("mosquitto", "/usr/sbin/mosquitto"), "-c", str(self.conf_path)]


class Mosquitto(MosquittoProcess):
    def __init__(
        self,
        workdir: Path,
        users: dict[str, str],
        superusers: tuple[str, ...] = (),
        port: int | None = None,
    ) -> None:
        super().__init__(workdir, users, port)
        self.superusers = tuple(superusers) or tuple(self.users)

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
# As shipped (deploy/mosquitto/mosquitto.conf): the largest legal payload.
message_size_limit {wire.MAX_MESSAGE}
log_dest stdout
log_type error
log_type warning
"""
        )

    def add_user(self, user: str, password: str) -> None:
        """Adding a device login takes a config reload (SIGHUP), not a restart."""
        tool = find_binary("mosquitto_passwd", "/usr/bin/mosquitto_passwd")
        subprocess.run([tool, "-b", str(self.workdir / "passwd"), user, password], check=True)
        self.users[user] = password
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(1)


def site_accounts(
    site: str,
    services: Mapping[str, str],
    devices: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The plugin file a site broker starts with: the service logins (what the
    bootstrap writes), device logins (what the api would have added) and, for
    tests, `extra` clients and roles."""
    hashed = {name: PasswordHash.of(password) for name, password in (devices or {}).items()}
    accounts = merged(service_accounts(services, site), device_accounts(site, hashed))
    return merged(accounts, extra or {})


def dynsec_plugin() -> str:
    """Debian's path of the plugin (the image's is /usr/lib/)."""
    found = sorted(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so"))
    found += sorted(glob.glob("/usr/lib/mosquitto_dynamic_security.so"))
    if not found:
        raise FileNotFoundError("mosquitto_dynamic_security.so is missing (package mosquitto)")
    return found[0]


def local_conf(text: str, mounts: Mapping[str, Path], ports: Mapping[int, int],
               host: str) -> str:
    """A container's mosquitto.conf made to run here: every container path
    mapped through `mounts` (container path -> folder or file here), the plugin
    at its Debian path, each listener on `host` at the port `ports` maps its
    own to, run as whoever runs it. A path no mount provides, or a listener no
    port is given for, is an error: the container would not have it."""
    lines = [f"user {getpass.getuser()}"]
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            lines.append(line)
        elif words[0] == "plugin":
            lines.append(f"plugin {dynsec_plugin()}")
        elif words[0] == "listener":
            if int(words[1]) not in ports:
                raise ValueError(f"mosquitto.conf listens on {words[1]}, which no port maps")
            lines.append(f"listener {ports[int(words[1])]} {host}")
        elif words[0] == "user":
            continue
        else:
            lines.append(" ".join(_local_path(word, mounts) for word in words))
    return "\n".join(lines) + "\n"


def _local_path(word: str, mounts: Mapping[str, Path]) -> str:
    if not word.startswith("/"):
        return word
    for inside in sorted(mounts, key=len, reverse=True):
        if word == inside or word.startswith(inside.rstrip("/") + "/"):
            rest = word[len(inside.rstrip("/")):]
            return str(mounts[inside]) + rest
    raise ValueError(f"mosquitto.conf names {word}, which no volume provides")


class SiteMosquitto(MosquittoProcess):
    """Mosquitto from the shipped configuration (or the `conf` a compose file
    mounts) with its container paths mapped by `mounts` (default: the data
    volume in `workdir`/data). `accounts` is the dynamic-security file to
    start with when the data volume holds none yet (see site_accounts);
    `users` are the passwords of the logins the caller uses (login()).

    `port` stands for the plain listener (1883, loopback), `tls_port` for the
    TLS one (8883). With the default mounts the broker gets a certificate for
    localhost from a CA of its own (`ca`, its file `ca_file`), as the
    bootstrap would make; a compose run's mosquitto-init puts the site's."""

    def __init__(
        self,
        workdir: Path,
        users: Mapping[str, str],
        accounts: Mapping[str, Any] | None = None,
        conf: Path = SHIPPED_CONF,
        mounts: Mapping[str, Path] | None = None,
        port: int | None = None,
        tls_port: int | None = None,
    ) -> None:
        super().__init__(workdir, users, port)
        self.tls_port = tls_port or free_port()
        self.accounts = accounts
        self.shipped_conf = conf
        self.ca: tls.KeyPair | None = None
        self.ca_file = self.workdir / "ca.crt"
        self._own_certs = mounts is None
        if mounts is None:
            (self.workdir / "data").mkdir(exist_ok=True)
            mounts = {DATA_VOLUME: self.workdir / "data"}
        self.mounts = dict(mounts)

    def tls_login(self, user: str, ca_file: Path | None = None) -> MqttSettings:
        """How a service logs in here as `user` over TLS, trusting `ca_file`
        (default: this broker's CA)."""
        return self.login(user).model_copy(update={
            "mqtt_port": self.tls_port, "mqtt_tls": True,
            "mqtt_tls_ca_file": str(ca_file or self.ca_file)})

    @property
    def accounts_file(self) -> Path:
        """The plugin's file as the broker keeps it."""
        match = re.search(r"^plugin_opt_config_file\s+(\S+)", self.conf_path.read_text(), re.M)
        if match is None:
            raise ValueError(f"{self.shipped_conf} loads no dynamic-security file")
        return Path(match.group(1))

    def _conf_path(self, option: str) -> Path | None:
        match = re.search(rf"^{option}\s+(\S+)", self.conf_path.read_text(), re.M)
        return Path(match.group(1)) if match else None

    def prepare(self) -> None:
        text = self.shipped_conf.read_text()
        ports = {PLAIN_PORT: self.port, TLS_PORT: self.tls_port}
        self.conf_path.write_text(local_conf(text, self.mounts, ports, self.host))
        if self.accounts is not None and not self.accounts_file.exists():
            self.accounts_file.write_text(json.dumps(self.accounts, indent=1))
        cert, key = self._conf_path("certfile"), self._conf_path("keyfile")
        if self._own_certs and cert is not None and key is not None and not cert.exists():
            self.ca = tls.new_ca("test")
            issued = tls.issue(self.ca, LOCAL_NAMES)
            cert.parent.mkdir(parents=True, exist_ok=True)
            cert.write_text(issued.cert_pem)
            key.write_text(issued.key_pem)
            key.chmod(0o600)
            self.ca_file.write_text(self.ca.cert_pem)

    def control(self, user: str = "api") -> DynsecControl:
        """A client of the dynamic-security plugin, logged in as `user`."""
        return DynsecControl(self.login(user))
