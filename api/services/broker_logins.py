"""Device logins on the broker: given, changed and taken away as the api adds,
resets and retires devices, before the change is committed, so a device the
api shows is a device the broker lets in.

With API_DEVICE_LOGINS=dynsec (the shipped broker) the api drives Mosquitto's
dynamic-security plugin as its admin (broker.accounts says which topics a
device gets); with `manual` the admin copies `export-passwd` into a broker's
password file and reloads it."""

from __future__ import annotations

from typing import Protocol

from api.services.errors import Unavailable
from broker import MqttSettings
from broker.accounts import grant_commands, lookup_commands, revoke_commands
from broker.control import ControlError, DynsecControl


class DeviceLogins(Protocol):
    def grant(self, site: str, device: str, password: str) -> None:
        """The device logs in with `password` from now on (created, changed or
        enabled again); an open session with the old one is closed."""

    def revoke(self, device: str) -> None:
        """The device can no longer log in; an open session is closed."""

    def close(self) -> None: ...


class ManualLogins:
    """The broker reads a password file the admin keeps (export-passwd)."""

    def grant(self, site: str, device: str, password: str) -> None:
        pass

    def revoke(self, device: str) -> None:
        pass

    def close(self) -> None:
        pass


class BrokerLogins:
    """The dynamic-security plugin of the site broker, through the api's login."""

    def __init__(self, broker: MqttSettings, timeout_s: float) -> None:
        self.control = DynsecControl(broker, timeout_s)

    def grant(self, site: str, device: str, password: str) -> None:
        try:
            found = self.control.run(lookup_commands(device),
                                     tolerate=("Client not found", "Role not found"))
            self.control.run(grant_commands(site, device, password, found))
        except ControlError as exc:
            raise Unavailable(f"device {device}: the broker did not take its login, nothing "
                              f"stored ({exc})") from exc

    def revoke(self, device: str) -> None:
        try:
            self.control.run(revoke_commands(device), tolerate=("Client not found",))
        except ControlError as exc:
            raise Unavailable(f"device {device}: the broker did not disable its login, nothing "
                              f"stored ({exc})") from exc

    def close(self) -> None:
        self.control.close()
