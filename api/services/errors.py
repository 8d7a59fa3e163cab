"""What a service refuses, and why; the message names the problem.

The services know nothing of HTTP: the web app maps each kind to a status code
in one place (api/main.py), the CLI prints the message and exits 2. Nothing is
stored when one of these is raised."""

from __future__ import annotations


class ServiceError(Exception):
    """A refused request; str() is the message shown to the caller."""

    # When the same request may succeed again, in seconds (HTTP Retry-After).
    retry_after_s: float | None = None

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotFound(ServiceError):
    """A row the request names does not exist."""


class Conflict(ServiceError):
    """The request clashes with stored data (a taken code, a closed bill, an overlap)."""


class Forbidden(ServiceError):
    """The caller may not see or do this."""


class Invalid(ServiceError):
    """The input breaks a rule the schemas cannot check alone."""


class Unauthenticated(ServiceError):
    """Wrong credentials."""


class Unavailable(ServiceError):
    """A server the request needs (InfluxDB, the broker) cannot answer."""


class Throttled(ServiceError):
    """Too many failed logins for this user or address: refused until retry_after_s."""


class Busy(Unavailable):
    """Too many password checks at once; try again in a moment."""
