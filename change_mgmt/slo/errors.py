"""Expected failures of SLO handling that are not a bad document (those are
``DocumentError``s with file, line and field)."""

from __future__ import annotations

from change_mgmt.errors import SreError


class SloError(SreError):
    """An SLO request that cannot be served: no alert windows for a period, no spec."""
