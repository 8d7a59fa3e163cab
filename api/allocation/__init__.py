"""The fair split of a shared building's bills (docs/allocation.md).

Pure computation: no web, database or network imports, so the offline CLI
(`python -m api.allocate`) and the api share it.
"""

from .engine import Split, allocate
from .parse import parse_scenario
from .render import split_to_csv, split_to_dict
from .scenario import Scenario, ScenarioError

__all__ = [
    "Scenario",
    "ScenarioError",
    "Split",
    "allocate",
    "parse_scenario",
    "split_to_csv",
    "split_to_dict",
]
