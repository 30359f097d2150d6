"""One canonical form of a principal (an approver, signer, author or group member).

Every trust decision compares principals through :func:`canonical_principal`, so
``Alice@Example.com`` and ``alice@example.com`` are one person everywhere: in approval
records, allowed signers, commit authors, groups and the four-eyes check. A principal
counts once however it is spelt.
"""

from __future__ import annotations

import unicodedata


def canonical_principal(value: str) -> str:
    """The form principals are compared and counted in: NFKC, trimmed, case-folded."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


def same_principal(left: str | None, right: str | None) -> bool:
    """True when both are given and name one principal."""
    if left is None or right is None:
        return False
    return canonical_principal(left) == canonical_principal(right)
