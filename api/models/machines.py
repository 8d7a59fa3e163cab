"""Devices (nodes on MQTT), machines behind them, and who is trained on what."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base, utcnow

DEVICE_ROLES = ("machine", "heating", "meter")


class Device(Base):
    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("site_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    name: Mapped[str] = mapped_column(String(32))  # MQTT login and topic segment
    role: Mapped[str] = mapped_column(String(16))
    # The broker's password for this device, hashed; the clear text is shown once.
    mqtt_password_hash: Mapped[str] = mapped_column(String(255))
    # The last version given to a signed message (ACL or command) for this
    # node, allocated inside the transaction that builds it: versions only grow.
    downlink_version: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Retired: its broker login is disabled; the row stays for the record.
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class Machine(Base):
    __tablename__ = "machine"
    __table_args__ = (UniqueConstraint("site_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(64), default="")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id"), default=None)
    rated_power_w: Mapped[int] = mapped_column()
    grace_minutes: Mapped[int] = mapped_column(default=0)
    # Version of the machine's last ACL (a device's downlink version): what the
    # broker must hold retained, or the sweep republishes.
    acl_version: Mapped[int] = mapped_column(BigInteger, default=0)


class Training(Base):
    """Permission of a member (all their badges) to use one machine."""

    __tablename__ = "training"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    machine_id: Mapped[int] = mapped_column(ForeignKey("machine.id"))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), default=None)
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_on: Mapped[date | None] = mapped_column(Date, default=None)  # last valid day
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
