"""Grafana dashboards from the repository's ``dashboards/`` folder.

Every ``*.json`` file there becomes one key of a ConfigMap that Grafana's dashboard
sidecar loads (it watches ConfigMaps with the label below). A file that is not a
dashboard stops the program with its path and line, before anything is declared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.observability.central_args import CentralObservabilityError

SIDECAR_LABEL = "grafana_dashboard"
SIDECAR_LABEL_VALUE = "1"
# A ConfigMap holds at most 1 MiB; leave room for its metadata.
MAX_TOTAL_BYTES = 900 * 1024
REQUIRED_KEYS: tuple[str, ...] = ("uid", "title", "panels")


def _problem(path: Path, line: int, what: str) -> CentralObservabilityError:
    return CentralObservabilityError("dashboards_dir", f"{path}:{line}", what)


def _check_dashboard(path: Path, text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise _problem(path, error.lineno, f"not valid JSON: {error.msg}") from None
    if not isinstance(document, dict):
        raise _problem(path, 1, "a dashboard is a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise _problem(path, 1, f"a Grafana dashboard needs {', '.join(missing)}")
    if not isinstance(document["uid"], str) or not document["uid"]:
        raise _problem(path, 1, "uid must be a non-empty string")
    return document


def load_dashboards(directory: Path) -> dict[str, str]:
    """File name -> JSON text of every dashboard in ``directory`` (sorted by name)."""
    if not directory.is_dir():
        raise CentralObservabilityError(
            "dashboards_dir", str(directory), "a folder holding Grafana dashboard *.json files"
        )
    files = sorted(directory.glob("*.json"))
    if not files:
        raise CentralObservabilityError(
            "dashboards_dir", str(directory), "holds no *.json dashboard"
        )
    loaded: dict[str, str] = {}
    uids: dict[str, Path] = {}
    for path in files:
        text = path.read_text("utf-8")
        uid = _check_dashboard(path, text)["uid"]
        if uid in uids:
            raise _problem(path, 1, f"uid {uid!r} is also used by {uids[uid].name}")
        uids[uid] = path
        loaded[path.name] = text
    total = sum(len(text.encode()) for text in loaded.values())
    if total > MAX_TOTAL_BYTES:
        raise CentralObservabilityError(
            "dashboards_dir",
            str(directory),
            f"dashboards total {total} bytes; one ConfigMap holds at most {MAX_TOTAL_BYTES}",
        )
    return loaded
