"""The one root of the policy pack's expected failures (bad settings or waivers files)."""

from __future__ import annotations

from change_mgmt.errors import SreError


class PolicyError(SreError):
    """A policy settings or waivers document is unreadable or invalid."""
