"""The one root of every expected failure, and the pack's own kind of it.

``SreError`` is defined here, in the pack's lowest layer, because ``pulumi policy publish``
ships only ``policies/``: the pack's document errors must derive from it without importing
``change_mgmt``. ``change_mgmt.errors`` re-exports it, so ``except SreError`` anywhere (the
CLI prints the message, anything else is a bug) catches the pack's errors too.
"""

from __future__ import annotations


class SreError(Exception):
    """An expected failure with a message a user can act on."""


class PolicyError(SreError):
    """A policy settings or waivers document is unreadable or invalid."""
