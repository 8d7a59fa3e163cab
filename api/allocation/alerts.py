"""Alerts raised while splitting; a holding alert stops the statements going out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Alert:
    kind: str  # e.g. "reconciliation", "counter", "estimates"
    message: str
    hold: bool = False
