"""A compacted copy of the machines' 15-minute counter readings (a cache of InfluxDB)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from api.models.base import Base


class CounterSlot(Base):
    """Last `wh` reading of a device in the 15-minute slot ending at `slot_end_ms`,
    kept only where the counter changed or a flat run starts or ends."""

    __tablename__ = "counter_slot"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    slot_end_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    wh: Mapped[int] = mapped_column(BigInteger)


class CounterWatermark(Base):
    """Slots ending at or before `until_ms` are cached for this device."""

    __tablename__ = "counter_watermark"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    until_ms: Mapped[int] = mapped_column(BigInteger)


class CounterLateWrite(Base):
    """The late-write marker (timeseries.arrivals) of a device and UTC day as the
    cache last acted on it: a marker with another value means points of that day
    were written since, and the cached slots of that day are read again."""

    __tablename__ = "counter_late_write"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), primary_key=True
    )
    day_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    written_ms: Mapped[int] = mapped_column(BigInteger)
