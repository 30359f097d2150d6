"""Running the real ``promtool`` (Debian package ``prometheus``) from tests.

Skipped only on a laptop without it: in CI (``CI`` set) a missing promtool fails, since
``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: .ci/run must install the prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus); CI does not skip this")
    return found


def run_promtool(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False
    )
