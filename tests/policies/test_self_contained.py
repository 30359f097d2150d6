"""The pack is self-contained: ``pulumi policy publish`` ships only ``policies/``, so no
module of it may import ``change_mgmt``, ``components`` or ``stacks``.

Each check runs in a subprocess whose imports of the rest of the repository fail
(``tests/policies/pack_site/sitecustomize.py``); ``test_pack_process`` serves a copy of
the pack under another name the same way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.policies.isolation import PACK_DIR, isolated_env, published_copy

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, policies
names = [m.name for m in pkgutil.walk_packages(policies.__path__, "policies.")]
for name in names:
    if not name.endswith(".__main__"):  # serves forever: test_pack_process runs it
        importlib.import_module(name)
print("\\n".join(names))
"""


def _python(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=cwd, env=env, capture_output=True, text=True
    )


def _modules_on_disk() -> set[str]:
    modules = set()
    for path in PACK_DIR.rglob("*.py"):
        parts = path.relative_to(PACK_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            modules.add(".".join(("policies", *parts)))
    return modules


def test_the_subprocess_cannot_import_the_rest_of_the_repository(tmp_path: Path) -> None:
    for package in ("change_mgmt", "components", "stacks"):
        result = _python(f"import {package}", tmp_path, isolated_env())
        assert result.returncode == 1
        assert f"ImportError: {package} is not part of the policy pack" in result.stderr


def test_every_module_of_the_pack_imports_without_the_rest_of_the_repository(
    tmp_path: Path,
) -> None:
    result = _python(IMPORT_EVERY_MODULE, tmp_path, isolated_env())
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == _modules_on_disk()


def test_a_copy_under_another_name_is_the_only_policies_package(tmp_path: Path) -> None:
    """Without its ``__main__.py`` to load it, the copy is not importable as ``policies``,
    and the repository's pack does not stand in for it."""
    copy = published_copy(tmp_path / "pack")
    result = _python("import policies", tmp_path, isolated_env(copy))
    assert result.returncode == 1
    assert f"ImportError: policies is not loaded from the pack at {copy}" in result.stderr
