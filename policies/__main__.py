"""Entry point of the sre-platform CrossGuard pack: ``pulumi preview --policy-pack policies``.

The only code that constructs ``PolicyPack`` (it serves the engine over gRPC and never
returns). The rules, settings and waivers are the same ones ``sre policy check`` runs.

``pulumi policy publish`` ships this directory alone, under whatever name the service
unpacks it to, and Pulumi runs this file with the directory first on ``sys.path``, where
the pack's modules (``secrets``, ``config``, ...) would shadow the standard library's.
So the directory leaves ``sys.path`` before anything else is imported, and the pack is
loaded from it as the package ``policies`` (the name its modules import each other by),
with nothing from the rest of the repository and no parent directory on ``sys.path``.
"""

import os
import sys

_PACK_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _PACK_DIR]

import importlib.util  # noqa: E402


def _load_pack_package() -> None:
    """Import ``_PACK_DIR`` as the package ``policies``, whatever the directory is called."""
    spec = importlib.util.spec_from_file_location(
        "policies",
        os.path.join(_PACK_DIR, "__init__.py"),
        submodule_search_locations=[_PACK_DIR],
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the policy pack from {_PACK_DIR}")
    package = importlib.util.module_from_spec(spec)
    sys.modules["policies"] = package
    spec.loader.exec_module(package)


_load_pack_package()

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pack import PACK_NAME, load_pack  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=load_pack(_PACK_DIR),
    enforcement_level=EnforcementLevel.ADVISORY,
)
