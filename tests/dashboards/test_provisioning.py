"""The provisioning files point at the right places: the data source has the
uid and database every panel uses, and the dashboard provider reads the folder
docker-compose.yml mounts dashboards/json into."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from dashboards import ALERTS_DATASOURCE_UID, DATASOURCE_UID, JSON_DIR, PROVISIONING_DIR
from timeseries import alerts_database

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


def test_datasources_are_the_ones_the_panels_use() -> None:
    """The site's database (the gateway's) and the alerts' own, with the names
    docker-compose.yml gives them; each as Grafana's read-only user."""
    sources = _yaml(PROVISIONING_DIR / "datasources" / "influxdb.yaml")["datasources"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    site_db = compose["gateway"]["environment"]["GATEWAY_INFLUX_DATABASE"]
    assert compose["alerts"]["environment"]["ALERTS_INFLUX_DATABASE"] == site_db
    alerts_db = compose["alerts"]["environment"].get("ALERTS_INFLUX_ALERTS_DATABASE",
                                                     alerts_database(site_db))
    assert compose["influxdb-init"]["environment"].get("INFLUXDB_ALERTS_DB", alerts_db) == \
        alerts_db
    assert {s["uid"]: s["jsonData"]["dbName"] for s in sources} == {
        DATASOURCE_UID: site_db, ALERTS_DATASOURCE_UID: alerts_db}
    used = {json.dumps(t["datasource"], sort_keys=True)
            for path in JSON_DIR.glob("*.json")
            for panel in json.loads(path.read_text())["panels"] for t in panel["targets"]}
    assert used == {json.dumps({"type": "influxdb", "uid": uid}, sort_keys=True)
                    for uid in (DATASOURCE_UID, ALERTS_DATASOURCE_UID)}
    for source in sources:
        assert source["type"] == "influxdb" and source["user"] == "grafana"
        assert source["url"] == "http://influxdb:8086"  # the compose service name
        # The password comes from Grafana's environment, which compose must provide.
        password = source["secureJsonData"]["password"]
        assert password.startswith("$")
        assert password[1:].strip("{}") in compose["grafana"]["environment"]
    assert [s["isDefault"] for s in sources] == [True, False]


def test_provider_reads_the_folder_compose_mounts_the_json_into() -> None:
    mounts = _grafana_mounts()
    assert mounts[str(PROVISIONING_DIR)] == "/etc/grafana/provisioning"
    (provider,) = _yaml(PROVISIONING_DIR / "dashboards" / "workshop.yaml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == mounts[str(JSON_DIR)]
    assert len(list(JSON_DIR.glob("*.json"))) == 5
