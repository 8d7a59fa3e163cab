"""Mosquitto's password hash: PBKDF2-SHA512 over a 12-byte salt, 64 bytes out.

Its password file writes it as `$7$<iterations>$<salt b64>$<hash b64>`; its
dynamic-security plugin keeps the same three values as JSON fields
(`password`, `salt`, `iterations`). One hash, two spellings, so a stored hash
can go to either without the clear text."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

# Mosquitto 2.0's own count (mosquitto_passwd and the plugin): device passwords
# are 144 random bits, so the count does not carry their strength.
ITERATIONS = 101
SALT_BYTES = 12
DIGEST_BYTES = 64
_PASSWD_SCHEME = "7"


@dataclass(frozen=True)
class PasswordHash:
    iterations: int
    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, password: str, iterations: int = ITERATIONS) -> Self:
        salt = secrets.token_bytes(SALT_BYTES)
        return cls(iterations, salt, _pbkdf2(password, salt, iterations))

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(_pbkdf2(password, self.salt, self.iterations), self.digest)

    def passwd_field(self) -> str:
        """The part after `user:` in Mosquitto's password file."""
        return f"${_PASSWD_SCHEME}${self.iterations}${_b64(self.salt)}${_b64(self.digest)}"

    @classmethod
    def from_passwd_field(cls, text: str) -> Self:
        parts = text.split("$")
        if len(parts) != 5 or parts[0] or parts[1] != _PASSWD_SCHEME:
            raise ValueError("not a Mosquitto $7$ hash")
        try:
            return cls(int(parts[2]), _unb64(parts[3]), _unb64(parts[4]))
        except (ValueError, binascii.Error) as exc:
            raise ValueError(f"bad Mosquitto $7$ hash: {exc}") from None

    def dynsec_fields(self) -> dict[str, Any]:
        """The fields of a client in the plugin's JSON file."""
        return {"password": _b64(self.digest), "salt": _b64(self.salt),
                "iterations": self.iterations}

    @classmethod
    def from_dynsec(cls, client: Mapping[str, Any]) -> Self | None:
        """The hash a client of the plugin's file holds (None: it has none)."""
        try:
            return cls(int(client["iterations"]), _unb64(client["salt"]),
                       _unb64(client["password"]))
        except (KeyError, TypeError, ValueError, binascii.Error):
            return None


def _pbkdf2(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, DIGEST_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
