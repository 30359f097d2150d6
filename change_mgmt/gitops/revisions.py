"""Which revisions are exact: the one rule for "may this environment deploy it".

Exact is a SemVer 2.0.0 version, optionally written with a leading ``v`` (``1.2.3``,
``v1.2.3``, ``65.1.1-rc.1``), or a full 40-digit hex commit id. Everything else is
mutable: ``HEAD``, branches (``main``, ``master``, ``release-1``), short commit ids
(ambiguous as a repository grows), partial versions (``1.2``, ``v1``) and Helm version
ranges (``1.2.*``, ``>=1.0``), each of which can point at different content tomorrow.
"""

from __future__ import annotations

import re

# The SemVer 2.0.0 grammar (semver.org's suggested expression), with an optional "v".
_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# Environments whose applications must name exact revisions; others get a warning.
EXACT_REVISION_ENVIRONMENTS = frozenset({"staging", "prod"})


def is_exact(revision: str) -> bool:
    """Whether ``revision`` always names the same content (see the module doc)."""
    return bool(_SEMVER.match(revision) or _COMMIT.match(revision))


def mutable_revision_message(revision: str) -> str:
    return (
        f"revision {revision!r} is mutable (a branch, HEAD, a short commit or a version "
        "range): pin a version like 1.2.3 or v1.2.3, or a full 40-hex commit id"
    )
