"""The one root of every expected failure in ``change_mgmt``.

The CLI catches ``SreError`` and prints its message; anything else is a bug and may
show a traceback. It is defined in ``policies.errors`` (the policy pack is published on
its own and may not import ``change_mgmt``, yet its document errors must be ``SreError``
too) and re-exported here, so there is still exactly one root.
"""

from __future__ import annotations

from policies.errors import SreError

__all__ = ["SreError"]
