"""SQLAlchemy models of the database of record (all on one Base)."""

from api.models.audit import AuditEntry
from api.models.base import Base
from api.models.bills import AllocationRun, BillBand, ElectricityBill, GasBill, Tariff
from api.models.counters import CounterLateWrite, CounterSlot, CounterWatermark
from api.models.machines import Device, Machine, Training
from api.models.people import ApiToken, Badge, Member, Site, User
from api.models.spaces import Lease, Unit
from api.models.throttle import LoginThrottle

__all__ = [
    "AllocationRun",
    "ApiToken",
    "AuditEntry",
    "Badge",
    "Base",
    "BillBand",
    "CounterLateWrite",
    "CounterSlot",
    "CounterWatermark",
    "Device",
    "ElectricityBill",
    "GasBill",
    "Lease",
    "LoginThrottle",
    "Machine",
    "Member",
    "Site",
    "Tariff",
    "Training",
    "Unit",
    "User",
]
