"""Password hashing (stdlib scrypt) and opaque bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

# scrypt cost: ~16 MiB and ~50 ms per check on a small server.
_N, _R, _P = 2**14, 8, 1
_SCHEME = "scrypt"
# What one check holds while it runs (scrypt's V array: 128 * r * N bytes).
SCRYPT_MEMORY_BYTES = 128 * _R * _N


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encoded = [base64.b64encode(x).decode() for x in (salt, digest)]
    return f"{_SCHEME}${_N}${_R}${_P}${encoded[0]}${encoded[1]}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != _SCHEME:
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, expected)


@cache
def _dummy_hash() -> str:
    # A hash nobody knows the password of, with the same cost as a real one.
    return hash_password(secrets.token_urlsafe(16))


def verify_login(password: str, stored: str | None) -> bool:
    """verify_password, and the same scrypt work when there is no stored hash (unknown
    user), so that the answer's timing does not tell which usernames exist."""
    if stored is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, stored)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str, secret_key: str) -> str:
    """What the database keeps of a token: keyed, so a copied table forges nothing."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def new_device_password() -> str:
    return secrets.token_urlsafe(18)

