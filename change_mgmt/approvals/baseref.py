"""Resolve the protected base branch: only a branch or a remote-tracking branch.

Whatever the base says (``approvers.yaml``, the risk policy) is trusted, so the name
must not be resolvable to something anyone with push rights can create. ``git
rev-parse origin/main`` prefers ``refs/tags/origin/main`` over the remote-tracking
branch: whoever can push a tag could then supply the rules. Here a name is looked up
only as ``refs/heads/<name>`` or ``refs/remotes/<name>``, and a name that also exists
as a tag, as another kind of ref, or as both a local and a remote-tracking branch is
refused as ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from change_mgmt.approvals.errors import RepositoryError
from change_mgmt.gitcmd import existing_refs

BRANCH_NAMESPACES = ("refs/heads/", "refs/remotes/")
DEFAULT_BASES = ("origin/main", "main")
"""The default base: ``origin/main`` when this clone has it (CI, any clone), else ``main``."""

_REFUSED = frozenset("*?[\\ \t\n\r\0")
_FETCH_HINT = "(in CI, fetch it first, e.g. `git fetch origin main`)"


class BaseRefError(RepositoryError):
    """The base ref is not exactly one branch or remote-tracking branch of this clone."""


@dataclass(frozen=True)
class BaseRef:
    """A base branch as given, the one ref it names and the commit it points at."""

    name: str
    ref: str
    """The full ref name, e.g. ``refs/remotes/origin/main``."""
    commit: str
    """The commit the base resolved to (40 hex): print it, so a reader can check it."""


def lookup_base_ref(root: Path, name: str) -> BaseRef | None:
    """``name`` as exactly one branch or remote-tracking branch; None when git knows no
    ref of that name at all; ``BaseRefError`` when it is a tag, another kind of ref, or
    ambiguous."""
    if not name or name.startswith("-") or any(ch in _REFUSED for ch in name):
        raise BaseRefError(f"base ref {name!r} is not a branch name")
    found = existing_refs(root, name, error=BaseRefError)
    if not found:
        return None
    branches = [ref for ref in found if ref.startswith(BRANCH_NAMESPACES)]
    others = [ref for ref in found if ref not in branches]
    if len(found) > 1:
        example = branches[0] if branches else "refs/remotes/origin/main"
        raise BaseRefError(
            f"base ref {name!r} is ambiguous: it names {', '.join(sorted(found))}; the base "
            f"must name one branch: give its full name (e.g. {example}) and remove the other"
        )
    if not branches:
        raise BaseRefError(
            f"base ref {name!r} is {others[0]}, not a branch: the base must be a branch or a "
            "remote-tracking branch (refs/heads/…, refs/remotes/…), never a tag or a commit"
        )
    ref = branches[0]
    kind, oid = found[ref]
    if kind != "commit":
        raise BaseRefError(f"base ref {name!r} ({ref}) points at a {kind}, not a commit")
    return BaseRef(name, ref, oid)


def resolve_base_ref(root: Path, name: str) -> BaseRef:
    """Like :func:`lookup_base_ref`, but a name that does not exist is an error too."""
    found = lookup_base_ref(root, name)
    if found is None:
        raise BaseRefError(
            f"base ref {name!r}: no such branch or remote-tracking branch in this clone "
            f"{_FETCH_HINT}"
        )
    return found


def default_base_ref(root: Path) -> BaseRef | None:
    """The first of :data:`DEFAULT_BASES` that exists, by the same rules: a default that
    exists but is a tag or ambiguous is an error, never skipped for the next one."""
    for name in DEFAULT_BASES:
        found = lookup_base_ref(root, name)
        if found is not None:
            return found
    return None
