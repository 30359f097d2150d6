"""Loaded by ``site`` in a test subprocess (``PYTHONPATH`` names this folder): makes the
interpreter see what the pack sees once ``pulumi policy publish`` shipped ``policies/``
alone, so a test fails on any import the published pack could not make.

* ``change_mgmt``, ``components`` and ``stacks`` (the rest of the repository) raise
  ``ImportError``: the editable install would otherwise find them anywhere.
* With ``SRE_ISOLATED_PACK_DIR`` set (a copy of the pack under another name), ``policies``
  and its submodules load only from that copy (so neither the repository's pack nor a
  parent directory on ``sys.path`` can stand in for it), and none of the copy's files
  but the entry point loads under any other name (its ``secrets.py`` or ``config.py``
  shadowing the standard library's).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

REPOSITORY_PACKAGES = frozenset({"change_mgmt", "components", "stacks"})
PACK_PACKAGE = "policies"
ENTRY_POINT = "__main__"  # how ``python <directory>`` (Pulumi's way) runs the pack
_PACK_DIR = os.environ.get("SRE_ISOLATED_PACK_DIR")


def _origin_in_pack(spec: ModuleSpec | None, pack_dir: str) -> str | None:
    """Where ``spec`` loads from, if that is inside ``pack_dir``."""
    origin = os.path.realpath(spec.origin) if spec is not None and spec.origin else None
    inside = origin is not None and os.path.commonpath([pack_dir, origin]) == pack_dir
    return origin if inside else None


class _OnlyThePack(MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        top = fullname.partition(".")[0]
        if top in REPOSITORY_PACKAGES:
            raise ImportError(f"{fullname} is not part of the policy pack")
        if _PACK_DIR is None:
            return None
        spec = PathFinder.find_spec(fullname, path)
        origin = _origin_in_pack(spec, os.path.realpath(_PACK_DIR))
        if top == PACK_PACKAGE and origin is None:
            raise ImportError(f"{fullname} is not loaded from the pack at {_PACK_DIR}")
        if top not in (PACK_PACKAGE, ENTRY_POINT) and origin is not None:
            raise ImportError(f"{fullname} would load from the pack's {origin}")
        return spec if origin is not None else None


sys.meta_path.insert(0, _OnlyThePack())
