"""Entry point of the sre-platform CrossGuard pack: ``pulumi preview --policy-pack policies``.

The only code that constructs ``PolicyPack`` (it serves the engine over gRPC and never
returns). The rules, settings and waivers are the same ones ``sre policy check`` runs.
"""

import os
import sys

# Pulumi runs this file with the pack directory first on sys.path, where our module
# names (secrets, config, ...) would shadow the standard library's. Import the pack as
# the ``policies`` package from the repository root instead.
_PACK_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _PACK_DIR]
sys.path.insert(0, os.path.dirname(_PACK_DIR))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from policies.pack import PACK_NAME, load_pack  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=load_pack(_PACK_DIR),
    enforcement_level=EnforcementLevel.ADVISORY,
)
