"""Run ``git`` as a subprocess; neutral, so any package of ``change_mgmt`` may use it.

A few ``git`` processes cost milliseconds where importing gitpython costs a tenth of a
second at every start of ``sre``. Callers pass explicit options so that a user's
configuration cannot change what is parsed; the error class is the caller's, so each
package keeps its own exceptions.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from change_mgmt.errors import SreError


class GitCommandError(SreError):
    """``git`` could not be run or failed; the message is git's own last line."""


def run_git(
    root: Path,
    *args: str,
    config: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    ok_codes: Sequence[int] = (0,),
    error: type[SreError] = GitCommandError,
) -> bytes:
    """``git -C root [-c k=v…] args``; its stdout, or ``error`` with git's message."""
    command = ["git", "-C", str(root)]
    for key, value in (config or {}).items():
        command += ["-c", f"{key}={value}"]
    command += args
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, input=stdin, capture_output=True, check=False
        )
    except OSError as exc:
        raise error(f"cannot run git: {exc.strerror or exc}") from None
    if result.returncode not in ok_codes:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {result.returncode}"
        raise error(f"git {args[0]} failed: {detail}")
    return result.stdout


def ref_candidates(name: str) -> list[str]:
    """Every full ref name git's rev-parse could mean by ``name`` (gitrevisions(7))."""
    if name.startswith("refs/"):
        return [name]
    return [
        f"refs/{name}",
        f"refs/tags/{name}",
        f"refs/heads/{name}",
        f"refs/remotes/{name}",
        f"refs/remotes/{name}/HEAD",
    ]


def existing_refs(
    root: Path, name: str, *, error: type[SreError] = GitCommandError
) -> dict[str, tuple[str, str]]:
    """The refs among :func:`ref_candidates` that exist: full name → (object type, id).

    More than one means ``name`` is ambiguous: git would silently pick the first (a tag
    shadows a branch of the same name).
    """
    candidates = ref_candidates(name)
    out = run_git(
        root,
        "for-each-ref",
        "--format=%(refname)%00%(objecttype)%00%(objectname)",
        *candidates,
        error=error,
    )
    found: dict[str, tuple[str, str]] = {}
    for line in out.decode("utf-8", "surrogateescape").splitlines():
        ref, kind, oid = line.split("\0")
        if ref in candidates:  # for-each-ref also matches refs below a candidate
            found[ref] = (kind, oid)
    return found
