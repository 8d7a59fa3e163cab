"""Rule thresholds: a TOML file over documented defaults (docs/alerts.md gives
the reason for each default). Unknown keys are an error, not a silent typo."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The thresholds file is unreadable or names something that does not exist."""


@dataclass(frozen=True)
class OpeningHours:
    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    start_hour: int = 8
    end_hour: int = 19


@dataclass(frozen=True)
class HeatingConfig:
    rise_c: float = 5.0
    rise_window_s: int = 900
    flow_hot_c: float = 40.0
    drop_c: float = 15.0
    min_delta_c: float = 1.5
    delta_window_s: int = 900
    zone_setpoint_c: float = 16.0
    zone_setpoints: dict[str, float] = field(default_factory=dict)
    zone_margin_c: float = 1.0
    zone_cold_for_s: int = 3600


@dataclass(frozen=True)
class OfflineConfig:
    missed_intervals: float = 3.0
    default_interval_s: int = 60
    min_interval_s: int = 5
    known_for_s: int = 7 * 86400


@dataclass(frozen=True)
class SensorConfig:
    jump_window_s: int = 3600
    stuck_for_s: int = 3 * 3600
    stuck_min_samples: int = 10
    temperature_min_c: float = -30.0
    temperature_max_c: float = 110.0
    power_max_w: float = 60000.0
    current_max_a: float = 100.0
    jump_c: float = 15.0
    jumps_to_fire: int = 3


@dataclass(frozen=True)
class MachineConfig:
    idle_w: float = 30.0
    left_on_for_s: int = 1800
    pause_s: int = 900
    interlock_for_s: int = 60


@dataclass(frozen=True)
class BaseLoadConfig:
    night_start_hour: int = 1
    night_end_hour: int = 5
    learn_nights: int = 14
    min_nights: int = 3
    margin: float = 0.3
    min_excess_w: float = 200.0
    min_night_coverage_s: int = 3600


@dataclass(frozen=True)
class LifecycleConfig:
    resolve_after_s: int = 300


@dataclass(frozen=True)
class RulesConfig:
    opening_hours: OpeningHours = field(default_factory=OpeningHours)
    heating: HeatingConfig = field(default_factory=HeatingConfig)
    offline: OfflineConfig = field(default_factory=OfflineConfig)
    sensors: SensorConfig = field(default_factory=SensorConfig)
    machines: MachineConfig = field(default_factory=MachineConfig)
    base_load: BaseLoadConfig = field(default_factory=BaseLoadConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)


def _build(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key(s) in [{where}]: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(cls(), name)
        path = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise ConfigError(f"[{path}] must be a table")
            values[name] = _build(type(default), value, path)
        else:
            values[name] = _coerce(default, value, path)
    return cls(**values)


def _coerce(default: Any, value: Any, path: str) -> Any:
    if isinstance(default, bool) or isinstance(value, bool):
        raise ConfigError(f"{path}: booleans are not thresholds")
    if isinstance(default, float) and isinstance(value, int | float):
        return float(value)
    if isinstance(default, int) and isinstance(value, int):
        return value
    if isinstance(default, str) and isinstance(value, str):
        return value
    if isinstance(default, tuple) and isinstance(value, list):
        if not all(isinstance(v, int) for v in value):
            raise ConfigError(f"{path}: expected a list of integers")
        return tuple(value)
    if isinstance(default, dict) and isinstance(value, dict):
        if not all(isinstance(v, int | float) for v in value.values()):
            raise ConfigError(f"{path}: expected numbers as values")
        return {str(k): float(v) for k, v in value.items()}
    raise ConfigError(
        f"{path}: expected {type(default).__name__}, got {type(value).__name__} {value!r}"
    )


def parse_rules(data: dict[str, Any]) -> RulesConfig:
    config: RulesConfig = _build(RulesConfig, data, "")
    _check(config)
    return config


def load_rules(path: Path | None) -> RulesConfig:
    """Defaults when `path` is None; otherwise the file over the defaults."""
    if path is None:
        return RulesConfig()
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read thresholds file {path}: {exc}") from exc
    return parse_rules(data)


def _check(config: RulesConfig) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    hours = config.opening_hours
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"opening_hours.timezone: unknown time zone {hours.timezone!r}") from exc
    if not 0 <= hours.start_hour < hours.end_hour <= 24:
        raise ConfigError("opening_hours: need 0 <= start_hour < end_hour <= 24")
    if any(not 0 <= d <= 6 for d in hours.days):
        raise ConfigError("opening_hours.days: weekdays are 0 (Monday) to 6 (Sunday)")
    night = config.base_load
    if not 0 <= night.night_start_hour < night.night_end_hour <= 24:
        raise ConfigError("base_load: need 0 <= night_start_hour < night_end_hour <= 24")
    if night.min_nights < 1 or night.learn_nights < night.min_nights:
        raise ConfigError("base_load: need 1 <= min_nights <= learn_nights")
    if config.offline.missed_intervals <= 1:
        raise ConfigError("offline.missed_intervals must be above 1")
