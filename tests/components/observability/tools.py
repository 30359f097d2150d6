"""The Debian binaries the Alertmanager tests run, and how they run them.

A missing binary skips a test on a laptop but fails it in CI (``CI`` set), where
``.ci/run`` installs ``prometheus-alertmanager``: a routing test must not pass by not running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGE = "prometheus-alertmanager"


def require_tool(name: str) -> str:
    """The path of ``name``; skips (fails in CI) when it is not installed."""
    path = shutil.which(name)
    if path is not None:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing in CI: .ci/run must apt-get install -y {PACKAGE}")
    pytest.skip(f"{name} is not installed (apt-get install -y {PACKAGE}); in CI this fails")


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("amtool"), *args], capture_output=True, text=True, check=False, timeout=60
    )


def routed_to(config: Path, labels: dict[str, str]) -> list[str]:
    """The receivers ``amtool config routes test`` picks for an alert with ``labels``.

    Values are quoted: unquoted, amtool trims spaces, and ``"page "`` must be tested as is.
    """
    matchers = [f'{name}="{value}"' for name, value in labels.items()]
    result = amtool("config", "routes", "test", f"--config.file={config}", *matchers)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(",")
