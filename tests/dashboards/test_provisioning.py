"""The provisioning files point at the right places: the data source has the
uid and database every panel uses, and the dashboard provider reads the folder
docker-compose.yml mounts dashboards/json into."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from dashboards import DATASOURCE_UID, JSON_DIR, PROVISIONING_DIR

REPO = Path(__file__).resolve().parents[2]


def _grafana_mounts() -> dict[str, str]:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts[str((REPO / source).resolve())] = target
    return mounts


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_grafana_layout_of_the_provisioning_folder() -> None:
    assert sorted(p.name for p in PROVISIONING_DIR.iterdir()) == ["dashboards", "datasources"]
    for sub in ("dashboards", "datasources"):
        files = list((PROVISIONING_DIR / sub).glob("*.yaml"))
        assert files and all(_yaml(f)["apiVersion"] == 1 for f in files)


def test_datasource_is_the_one_the_panels_use() -> None:
    (source,) = _yaml(PROVISIONING_DIR / "datasources" / "influxdb.yaml")["datasources"]
    assert source["type"] == "influxdb" and source["uid"] == DATASOURCE_UID
    assert source["jsonData"]["dbName"] == "workshop"  # the gateway's database
    assert source["url"] == "http://influxdb:8086"  # the compose service name
    used = {json.dumps(t["datasource"], sort_keys=True)
            for path in JSON_DIR.glob("*.json")
            for panel in json.loads(path.read_text())["panels"] for t in panel["targets"]}
    assert used == {json.dumps({"type": "influxdb", "uid": DATASOURCE_UID}, sort_keys=True)}
    # The password comes from Grafana's environment, which compose must provide.
    password = source["secureJsonData"]["password"]
    assert password.startswith("$")
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert password[1:].strip("{}") in compose["services"]["grafana"]["environment"]


def test_provider_reads_the_folder_compose_mounts_the_json_into() -> None:
    mounts = _grafana_mounts()
    assert mounts[str(PROVISIONING_DIR)] == "/etc/grafana/provisioning"
    (provider,) = _yaml(PROVISIONING_DIR / "dashboards" / "workshop.yaml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == mounts[str(JSON_DIR)]
    assert len(list(JSON_DIR.glob("*.json"))) == 5
