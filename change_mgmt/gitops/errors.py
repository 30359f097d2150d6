"""Expected failures of GitOps handling that are not a bad document (those are
``DocumentError``s with file, line and field)."""

from __future__ import annotations

from change_mgmt.errors import SreError


class GitOpsError(SreError):
    """A GitOps request that cannot be served: a missing file, an unknown environment."""
