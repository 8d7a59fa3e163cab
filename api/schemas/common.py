"""Field types shared by the schemas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# A row id: PostgreSQL's integer column ends at 2**31 - 1.
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
# Size bounds of the lists a request may carry: bands of a tariff, members of a site,
# 15-minute slots of a year.
MAX_BANDS = 24
MAX_MEMBERS = 1000
MAX_SLOTS = 366 * 96
# An amount typed as text (manual readings): digits, a point, a sign.
AmountText = Annotated[str, Field(max_length=40)]
# The ids the split engine accepts for members, units and machines.
Code = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:@/+-]{1,64}$")]
# Device names are MQTT topic segments (protocol.wire.check_name).
DeviceName = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]
# Exact amounts travel as decimal strings; JSON numbers are accepted on input.
NonNegative = Annotated[
    Decimal,
    Field(ge=0, max_digits=20, decimal_places=6),
    PlainSerializer(lambda d: str(d), return_type=str),
]
Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=14, decimal_places=2),
    PlainSerializer(lambda d: str(d), return_type=str),
]


class Strict(BaseModel):
    """Input: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def readable(errors: Iterable[Mapping[str, Any]], whole: str) -> str:
    """Validation errors as one line, `field.path: message; ...` (`whole` names an
    error of the object as a whole); the HTTP detail and the CLI's message."""
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or whole}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
