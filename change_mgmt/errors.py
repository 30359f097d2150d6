"""The one root of every expected failure in ``change_mgmt``.

The CLI catches ``SreError`` and prints its message; anything else is a bug and may
show a traceback.
"""

from __future__ import annotations


class SreError(Exception):
    """An expected failure with a message a user can act on."""
