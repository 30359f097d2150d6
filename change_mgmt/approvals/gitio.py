"""The few git operations approvals need, where gitpython has no (fast) equivalent.

Everything here runs ``git`` with explicit options so that a user's configuration
(``log.showSignature``, ``diff.renames``, ``core.quotePath``…) cannot change what is
parsed, and with ``--literal-pathspecs`` so file names from the repository are never
read as patterns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from change_mgmt import gitcmd
from change_mgmt.approvals.errors import RepositoryError

_RECORD = "\x1e"
_FIELD = "\x1f"


def open_repository(directory: Path) -> git.Repo:
    try:
        return git.Repo(directory, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise RepositoryError(f"{directory} is not inside a git repository") from None


def repository_root(repo: git.Repo) -> Path:
    return Path(repo.working_tree_dir or repo.git_dir)


def head_commit(repo: git.Repo) -> str | None:
    """The commit HEAD points at, or None in a repository without commits."""
    try:
        return str(repo.head.commit.hexsha)
    except ValueError:
        return None


def is_shallow(repo: git.Repo) -> bool:
    return (Path(repo.common_dir) / "shallow").is_file()


def run_git(
    root: Path,
    *args: str,
    config: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    ok_codes: Sequence[int] = (0,),
) -> bytes:
    """``git -C root [-c k=v…] args``; its stdout, or ``RepositoryError`` with git's message."""
    return gitcmd.run_git(
        root, *args, config=config, stdin=stdin, ok_codes=ok_codes, error=RepositoryError
    )


@dataclass(frozen=True)
class TreeEntry:
    """One file of a tree: its path (repository-relative), mode, blob id and size."""

    path: str
    mode: str
    oid: str
    size: int

    @property
    def regular(self) -> bool:
        return self.mode in ("100644", "100755")


def list_tree(root: Path, commit: str, directory: str) -> list[TreeEntry]:
    """Every file below ``directory`` at ``commit`` (``git ls-tree -r -l``)."""
    out = run_git(root, "ls-tree", "-r", "-l", "-z", "--full-tree", commit, "--", directory + "/")
    entries = []
    for item in out.split(b"\0"):
        if not item:
            continue
        meta, _, raw_path = item.partition(b"\t")
        mode, kind, oid, size = meta.split()
        if kind != b"blob":
            entries.append(
                TreeEntry(
                    raw_path.decode("utf-8", "surrogateescape"), mode.decode(), oid.decode(), 0
                )
            )
            continue
        entries.append(
            TreeEntry(
                raw_path.decode("utf-8", "surrogateescape"),
                mode.decode(),
                oid.decode(),
                int(size),
            )
        )
    return entries


def read_blobs(root: Path, oids: Iterable[str]) -> dict[str, bytes]:
    """The contents of many objects (blobs, or raw commits) in one ``git cat-file --batch``."""
    wanted = sorted(set(oids))
    if not wanted:
        return {}
    out = run_git(root, "cat-file", "--batch", stdin="".join(f"{o}\n" for o in wanted).encode())
    blobs: dict[str, bytes] = {}
    position = 0
    while position < len(out):
        end = out.index(b"\n", position)
        header = out[position:end].split()
        position = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        blobs[header[0].decode()] = out[position : position + size]
        position += size + 1
    return blobs


@dataclass(frozen=True)
class Origin:
    """A non-merge commit that changed a path, and what it wrote (``oid`` all zeros: it
    deleted the path)."""

    commit: str
    mode: str
    oid: str

    @property
    def deleted(self) -> bool:
        return self.oid.strip("0") == ""


@dataclass(frozen=True)
class PathChange:
    """One change of one path by one non-merge commit."""

    path: str
    origin: Origin


def path_changes(
    root: Path, revisions: Sequence[str], pathspecs: Sequence[str]
) -> list[PathChange]:
    """Every change below ``pathspecs`` by the non-merge commits of ``revisions``, newest
    first (``--topo-order``: children before parents).

    One ``git log`` pass (``--full-history``, so that a merge cannot hide a change on the
    other side). Merges show no diff: a merge never vouches for content.
    """
    out = run_git(
        root,
        "--literal-pathspecs",
        "log",
        "--no-show-signature",
        "--no-color",
        "--topo-order",
        "--full-history",
        "--diff-merges=off",
        "--raw",
        "-z",
        "--no-renames",
        "--no-abbrev",
        "--no-ext-diff",
        "--no-textconv",
        "--root",
        f"--format={_RECORD}%H",
        *revisions,
        "--",
        *pathspecs,
    )
    changes: list[PathChange] = []
    tokens = out.split(b"\0")
    commit = ""
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token.startswith(_RECORD.encode()):
            commit = token[1:].decode()
            continue
        status = token.lstrip(b"\n")
        if not status.startswith(b":") or index >= len(tokens):
            continue
        raw_path = tokens[index]
        index += 1
        fields = status[1:].split(b" ")
        if len(fields) >= 4:
            path = raw_path.decode("utf-8", "surrogateescape")
            changes.append(PathChange(path, Origin(commit, fields[1].decode(), fields[3].decode())))
    return changes


def newest_changes(root: Path, head: str, pathspecs: Sequence[str]) -> dict[str, Origin]:
    """For every path below ``pathspecs``: the newest non-merge commit reachable from ``head``
    that changed it (see :func:`path_changes`)."""
    origins: dict[str, Origin] = {}
    for change in path_changes(root, [head], pathspecs):
        origins.setdefault(change.path, change.origin)
    return origins


def changed_paths(root: Path, since: str, head: str, directory: str) -> set[str]:
    """The files below ``directory`` that differ between ``since`` and ``head``."""
    out = run_git(
        root,
        "--literal-pathspecs",
        "diff",
        "--no-renames",
        "--no-ext-diff",
        "--name-only",
        "-z",
        since,
        head,
        "--",
        directory + "/",
    )
    return {item.decode("utf-8", "surrogateescape") for item in out.split(b"\0") if item}


def descendants(root: Path, commit: str, head: str) -> set[str]:
    """The commits between ``commit`` (exclusive) and ``head`` that descend from it."""
    out = run_git(root, "rev-list", "--ancestry-path", f"{commit}..{head}")
    return set(out.decode().split())


@dataclass(frozen=True)
class SignatureCheck:
    """git's view of one commit's signature: ``%G?``, ``%GS`` and ``%GK``."""

    commit: str
    status: str
    signer: str | None
    key: str | None
    kind: str | None = None
    """The kind of signature the commit carries (see :func:`signature_kind`); None: none."""


_SIGNATURE_HEADERS = (b"gpgsig ", b"gpgsig-sha256 ")
_SIGNATURE_KINDS = (
    (b"-----BEGIN SSH SIGNATURE-----", "ssh"),
    (b"-----BEGIN PGP SIGNATURE-----", "openpgp"),
    (b"-----BEGIN SIGNED MESSAGE-----", "x509"),
)


def signature_kind(commit_object: bytes) -> str | None:
    """``ssh``, ``openpgp``, ``x509`` or ``unknown`` from a raw commit's ``gpgsig`` header;
    None when it has none. ``%G?`` cannot tell an OpenPGP signature from none when only
    SSH verification is configured; the header can."""
    header = commit_object.split(b"\n\n", 1)[0]
    for line in header.split(b"\n"):
        if line.startswith(_SIGNATURE_HEADERS):
            armour = line.split(b" ", 1)[1]
            return next(
                (kind for start, kind in _SIGNATURE_KINDS if armour.startswith(start)), "unknown"
            )
    return None


def verification_config(allowed_signers: Path) -> dict[str, str]:
    """Verify SSH signatures with ssh-keygen against ``allowed_signers`` only; an OpenPGP or
    X.509 signature is never checked (so no keyring on the machine can make it good)."""
    return {
        "gpg.ssh.allowedSignersFile": str(allowed_signers),
        "gpg.ssh.program": "ssh-keygen",
        "gpg.program": "false",
        "gpg.openpgp.program": "false",
        "gpg.x509.program": "false",
        "log.showSignature": "false",
    }


def check_signatures(
    root: Path, commits: Iterable[str], allowed_signers: Path
) -> dict[str, SignatureCheck]:
    """Signature status of many commits in one ``git log --no-walk`` (one ssh-keygen
    verification per signed commit)."""
    wanted = sorted(set(commits))
    if not wanted:
        return {}
    out = run_git(
        root,
        "log",
        "--no-walk=unsorted",
        "--stdin",
        "--no-show-signature",
        "--no-color",
        f"--format=%H{_FIELD}%G?{_FIELD}%GS{_FIELD}%GK{_RECORD}",
        config=verification_config(allowed_signers),
        stdin="".join(f"{c}\n" for c in wanted).encode(),
    )
    objects = read_blobs(root, wanted)
    checks: dict[str, SignatureCheck] = {}
    for item in out.decode("utf-8", "replace").split(_RECORD):
        fields = item.strip("\n").split(_FIELD)
        if len(fields) != 4:
            continue
        commit, status, signer, key = fields
        kind = signature_kind(objects.get(commit, b""))
        checks[commit] = SignatureCheck(commit, status or "E", signer or None, key or None, kind)
    return checks
