"""The layers, read from the source: imports run one way, down (README, "How
it fits together"), and InfluxDB's HTTP endpoints are named in one package.

A rule is one line of RULES: a folder, what its files may not import (or the
only things they may), and the subfolders it does not cover."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = frozenset({
    "protocol", "timeseries", "broker", "gateway", "alerts", "api", "simulator", "firmware",
    "devservers", "bench", "dashboards", "tests", "tools", "deploy",
})


@dataclass(frozen=True)
class Rule:
    folder: str
    why: str
    # Module names (a name forbids its submodules too) the folder may not import...
    forbidden: frozenset[str] = frozenset()
    # ...or, when set, the only top-level modules it may import besides its own.
    only: frozenset[str] | None = None
    # Names under a forbidden one that stay allowed (e.g. the folder's own package).
    allowed: frozenset[str] = frozenset()
    # Subfolders the rule does not cover.
    exempt: tuple[str, ...] = ()


RULES = (
    Rule("alerts", "the api imports the alerts (to show and acknowledge them), never back",
         forbidden=frozenset({"api", "gateway"})),
    Rule("gateway", "the gateway stands on protocol, the store and the broker settings only",
         forbidden=frozenset({"api", "alerts", "simulator"})),
    Rule("protocol", "it runs on the nodes under MicroPython too",
         only=frozenset({"json", "struct", "binascii", "hashlib"})),
    Rule("api/allocation", "the split is pure computation, shared by the offline CLI",
         forbidden=frozenset({
             "fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy", "alembic", "psycopg",
             "influxdb_client", "timeseries", "paho", "api",
         }),
         allowed=frozenset({"api.allocation"})),
    Rule("timeseries", "the ground floor: everything above may use it",
         forbidden=PROJECT - {"timeseries"}),
    Rule("broker", "the ground floor: everything above may use it (topic names from protocol)",
         forbidden=PROJECT - {"broker", "protocol"}),
    Rule("deploy", "the bootstrap runs before any service; it shares only the ground floor",
         forbidden=PROJECT - {"deploy", "broker", "protocol", "timeseries"}),
)

STORE = "timeseries"
ENDPOINT = re.compile(r"/(?:write|query)\b")


def python_files(folder: str, exempt: tuple[str, ...] = (), root: Path = ROOT) -> Iterator[Path]:
    for path in sorted((root / folder).rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if "node_modules" in path.parts:
            continue
        if not any(relative.startswith(e.rstrip("/") + "/") for e in exempt):
            yield path


def imports(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """(line, module) of every import, relative ones resolved."""
    package = list(path.relative_to(root).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([module] if module else [])])
            yield node.lineno, module


def under(module: str, names: frozenset[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in names)


def breaches(rule: Rule, root: Path = ROOT) -> list[str]:
    own = rule.folder.split("/")[0]
    found = []
    for path in python_files(rule.folder, rule.exempt, root):
        for line, module in imports(path, root):
            if rule.only is not None:
                bad = module.split(".")[0] not in rule.only | {own}
            else:
                bad = under(module, rule.forbidden) and not under(module, rule.allowed)
            if bad:
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("rule", RULES, ids=[r.folder for r in RULES])
def test_imports_run_down(rule: Rule) -> None:
    assert list(python_files(rule.folder, rule.exempt)), f"{rule.folder} has no files"
    assert breaches(rule) == [], f"{rule.folder}: {rule.why}"


def test_only_the_store_names_influxdbs_endpoints() -> None:
    """Outside the tests, every request to InfluxDB goes through timeseries/."""
    found = []
    for folder in sorted(PROJECT - {STORE, "tests"}):
        for path in python_files(folder):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                        and ENDPOINT.search(node.value)):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_the_rules_see_a_breach(tmp_path: Path) -> None:
    """The checker itself: absolute, relative and lazy imports are all caught."""
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "x.py").write_text(
        "from . import lifecycle\n\ndef f():\n    import gateway.ingest\n"
    )
    (tmp_path / "api" / "allocation").mkdir(parents=True)
    (tmp_path / "api" / "allocation" / "x.py").write_text(
        "from ..services import splits\nfrom .engine import allocate\nimport sqlalchemy\n"
    )
    (tmp_path / "protocol").mkdir()
    (tmp_path / "protocol" / "x.py").write_text("import json\nimport re\nfrom . import wire\n")
    rules = {rule.folder: rule for rule in RULES}
    assert breaches(rules["alerts"], tmp_path) == ["alerts/x.py:4 imports gateway.ingest"]
    assert breaches(rules["api/allocation"], tmp_path) == [
        "api/allocation/x.py:1 imports api.services", "api/allocation/x.py:3 imports sqlalchemy",
    ]
    assert breaches(rules["protocol"], tmp_path) == ["protocol/x.py:2 imports re"]
