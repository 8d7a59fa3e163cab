"""Thresholds file: defaults, overrides, and errors that name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import ConfigError, RulesConfig, load_rules


def test_defaults_without_a_file() -> None:
    assert load_rules(None) == RulesConfig()


def test_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[opening_hours]\ntimezone = "Europe/Berlin"\ndays = [0, 1, 2, 3, 4, 5]\n'
        "[heating]\nrise_c = 4\n"
        '[heating.zone_setpoints]\n"boiler1.t_zone2" = 14\n'
    )
    config = load_rules(path)
    assert config.opening_hours.timezone == "Europe/Berlin"
    assert config.opening_hours.days == (0, 1, 2, 3, 4, 5)
    assert config.heating.rise_c == 4.0 and isinstance(config.heating.rise_c, float)
    assert config.heating.zone_setpoints == {"boiler1.t_zone2": 14.0}
    assert config.heating.rise_window_s == RulesConfig().heating.rise_window_s


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[heating]\nrise_cc = 4\n", "unknown key(s) in [heating]: rise_cc"),
        ("[heatin]\nrise_c = 4\n", "unknown key(s) in []: heatin"),
        ('[heating]\nrise_c = "four"\n', "heating.rise_c: expected float, got str"),
        ("[heating]\nrise_window_s = 1.5\n", "heating.rise_window_s: expected int"),
        ('[opening_hours]\ntimezone = "Mars/Olympus"\n', "unknown time zone 'Mars/Olympus'"),
        ("[opening_hours]\nstart_hour = 20\nend_hour = 8\n", "start_hour < end_hour"),
        ("[base_load]\nmin_nights = 20\n", "min_nights <= learn_nights"),
        ("heating = 3\n", "[heating] must be a table"),
        ("[heating\n", "cannot read thresholds file"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert message in str(info.value)
