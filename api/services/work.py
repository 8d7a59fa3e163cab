"""What a change needs, built by the web app per request and by the CLI per command."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from api.models import Site
from api.services.acl import AclPush
from api.services.audit import Auditor
from api.services.broker_logins import DeviceLogins


@dataclass(frozen=True)
class Work:
    """One change: its session (one transaction, the audit rows included), the
    site, who acts (the auditor), the ACL push that follows the commit, and
    the device logins on the broker (changed before the commit)."""

    session: Session
    site: Site
    audit: Auditor
    acl: AclPush
    logins: DeviceLogins
