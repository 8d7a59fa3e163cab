"""Push the dashboards to an existing Grafana through its HTTP API:

    python -m dashboards.push --url https://grafana.example --token glsa_...
    python -m dashboards.push --url http://admin:secret@localhost:3000

Each dashboard goes into the folder "Workshop monitor" (created if missing) and
overwrites its previous version (same uid). `--datasource-uid` points the
panels at an InfluxDB data source that already exists there under another uid,
`--alerts-datasource-uid` the alert panels at the one for the alerts' database."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards import ALERTS_DATASOURCE_UID, DATASOURCE_UID, JSON_DIR

FOLDER_UID, FOLDER_TITLE = "workshop-monitor", "Workshop monitor"


def load(datasource_uid: str = DATASOURCE_UID,
         alerts_datasource_uid: str = ALERTS_DATASOURCE_UID) -> list[dict[str, Any]]:
    """The dashboards as Grafana's API takes them, pointed at `datasource_uid`
    (the site's data) and `alerts_datasource_uid` (the alerts' database)."""
    uids = {DATASOURCE_UID: datasource_uid, ALERTS_DATASOURCE_UID: alerts_datasource_uid}
    return [_repoint(json.loads(path.read_text()), uids)
            for path in sorted(JSON_DIR.glob("*.json"))]


def _repoint(node: Any, uids: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if node.get("type") == "influxdb" and node.get("uid") in uids:
            return {**node, "uid": uids[node["uid"]]}
        return {k: _repoint(v, uids) for k, v in node.items()}
    if isinstance(node, list):
        return [_repoint(v, uids) for v in node]
    return node


def ensure_folder(api: GrafanaApi) -> str:
    try:
        api.folder.get_folder(FOLDER_UID)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
    return FOLDER_UID


def push(api: GrafanaApi, dashboards: Sequence[dict[str, Any]]) -> list[str]:
    folder = ensure_folder(api)
    urls = []
    for board in dashboards:
        body = {"dashboard": {**board, "id": None}, "folderUid": folder, "overwrite": True,
                "message": "pushed by workshop-monitor"}
        answer = api.dashboard.update_dashboard(body)
        urls.append(str(answer.get("url", board["uid"])))
    return urls


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.push", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="Grafana base URL (user:password@ allowed)")
    parser.add_argument("--token", help="service-account token (else credentials in --url)")
    parser.add_argument("--datasource-uid", default=DATASOURCE_UID,
                        help=f"uid of the InfluxDB data source there (default {DATASOURCE_UID})")
    parser.add_argument("--alerts-datasource-uid", default=ALERTS_DATASOURCE_UID,
                        help="uid of the data source on the alerts' database there "
                             f"(default {ALERTS_DATASOURCE_UID})")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    api = GrafanaApi.from_url(args.url, credential=args.token, timeout=args.timeout)
    try:
        urls = push(api, load(args.datasource_uid, args.alerts_datasource_uid))
    except GrafanaException as exc:
        print(f"Grafana refused: {exc.status_code} {exc.message}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cannot reach Grafana at {args.url}: {exc}", file=sys.stderr)
        return 1
    for url in urls:
        print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
