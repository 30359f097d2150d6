"""Run code as the published pack would: a subprocess that cannot import the rest of the
repository (see ``pack_site/sitecustomize.py``), optionally with a copy of ``policies/``
under a foreign name as the only source of the ``policies`` package."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import REPO_ROOT

PACK_DIR = REPO_ROOT / "policies"
SITE_DIR = Path(__file__).resolve().with_name("pack_site")


def published_copy(destination: Path) -> Path:
    """``policies/`` alone, as ``pulumi policy publish`` ships it, at ``destination``."""
    shutil.copytree(PACK_DIR, destination, ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def isolated_env(pack_copy: Path | None = None) -> dict[str, str]:
    """The environment of such a subprocess (``pack_copy``: the only ``policies``)."""
    env = {**os.environ, "PYTHONPATH": str(SITE_DIR)}
    env.pop("SRE_ISOLATED_PACK_DIR", None)
    if pack_copy is not None:
        env["SRE_ISOLATED_PACK_DIR"] = str(pack_copy.resolve())
    return env
