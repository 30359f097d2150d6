"""Write an approval: one record file, committed alone in a commit signed with the user's key.

Signing uses the user's own git configuration (``gpg.format=ssh`` and
``user.signingkey``; ssh-agent, passphrases and ``gpg.ssh.program`` work as they do for
any ``git commit -S``). Nothing here reads or prints a private key: only the path git is
configured with and the public half.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import git

from change_mgmt.approvals.errors import (
    ApprovalError,
    ApprovalInputError,
    ApprovalsDirtyError,
    ApproversFileError,
    CommitError,
    PushError,
    RepositoryError,
    SelfApprovalError,
    SigningNotConfiguredError,
)
from change_mgmt.approvals.gitio import (
    check_signatures,
    head_commit,
    list_tree,
    open_repository,
    path_changes,
    read_blobs,
    repository_root,
    run_git,
)
from change_mgmt.approvals.records import (
    APPROVALS_DIR,
    DEFAULT_VALIDITY,
    EMAIL_PATTERN,
    RECORD_SUFFIX,
    ApprovalRecord,
    Decision,
    change_dir,
    render_record,
    stack_dir,
    validate_digest,
    validate_stack,
)
from change_mgmt.approvals.signers import (
    APPROVERS_FILE,
    PublicKey,
    load_approvers,
    parse_public_key,
)
from change_mgmt.principals import same_principal

_SETUP_HINT = (
    "set it up once with `git config --global gpg.format ssh` and "
    "`git config --global user.signingkey ~/.ssh/id_ed25519.pub` (your key must also be "
    f"listed in {APPROVERS_FILE} on the protected branch)"
)


@dataclass(frozen=True)
class SigningSetup:
    """How ``git commit -S`` will sign here: the configured key and its public half."""

    signing_key: str
    """``user.signingkey`` as configured: a key path or ``key::<public key>``."""
    public_key: PublicKey | None
    """None when the public half cannot be found (e.g. a passphrase-protected key without
    a ``.pub`` file next to it); signing may still work."""


def _config(root: Path, name: str) -> str | None:
    value = run_git(root, "config", "--get", name, ok_codes=(0, 1)).decode().strip()
    return value or None


def _public_key_of(value: str, root: Path) -> PublicKey | None:
    text = value.removeprefix("key::")
    if text != value or text.startswith(("ssh-", "ecdsa-", "sk-")):
        try:
            return parse_public_key(text)
        except ValueError:
            raise SigningNotConfiguredError(
                "user.signingkey holds a literal key that is not an SSH public key; " + _SETUP_HINT
            ) from None
    path = Path(os.path.expanduser(value))
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise SigningNotConfiguredError(
            f"user.signingkey points at {path}, which does not exist; {_SETUP_HINT}"
        )
    public = path if path.suffix == ".pub" else path.with_name(path.name + ".pub")
    try:
        if public.is_file():
            return parse_public_key(public.read_text(encoding="utf-8").strip())
        derived = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["ssh-keygen", "-y", "-f", str(path)],  # noqa: S607
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=10,
        )
        if derived.returncode == 0:
            return parse_public_key(derived.stdout.decode("utf-8", "replace").strip())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return None


def signing_setup(repo_dir: Path) -> SigningSetup:
    """The user's SSH signing configuration as seen from ``repo_dir``; refuses anything
    but ``gpg.format=ssh`` with a ``user.signingkey``."""
    with open_repository(repo_dir) as repo:
        root = repository_root(repo)
    form = (_config(root, "gpg.format") or "openpgp").lower()
    key = _config(root, "user.signingkey")
    if form != "ssh":
        raise SigningNotConfiguredError(
            f"approvals are signed with SSH keys, but gpg.format is {form!r}; {_SETUP_HINT}"
        )
    if key is None:
        raise SigningNotConfiguredError(f"user.signingkey is not set; {_SETUP_HINT}")
    return SigningSetup(key, _public_key_of(key, root))


@dataclass(frozen=True)
class Identity:
    """Who the approval is in the name of, and whether ``approvers.yaml`` here lists the key."""

    approver: str
    listed: bool


def approver_identity(repo_dir: Path, setup: SigningSetup) -> Identity:
    """The principal ``approvers.yaml`` (working tree) lists for the signing key, else
    ``user.email``."""
    with open_repository(repo_dir) as repo:
        root = repository_root(repo)
    listed_file = root / APPROVERS_FILE
    if setup.public_key is not None and listed_file.is_file():
        try:
            listed = load_approvers(listed_file, display_path=APPROVERS_FILE)
        except ApproversFileError:
            listed = None
        entry = listed.by_key(setup.public_key) if listed else None
        if entry is not None:
            return Identity(entry.principal, True)
    email = _config(root, "user.email")
    if email is None or not EMAIL_PATTERN.fullmatch(email):
        raise ApprovalInputError(
            f"cannot tell who you are: your signing key is not in {APPROVERS_FILE} and "
            "`git config user.email` is "
            + ("not set" if email is None else f"{email!r}, not an email address")
        )
    return Identity(email, False)


@dataclass(frozen=True)
class WrittenApproval:
    record: ApprovalRecord
    path: str
    commit: str
    replaced: bool
    """The approver had a record for this change already; this commit replaces it."""
    listed: bool
    """The signing key is listed in the working tree's ``approvers.yaml``."""
    public_key: PublicKey | None
    pushed_to: str | None = None


def _dirty(root: Path) -> list[str]:
    out = run_git(
        root,
        "--literal-pathspecs",
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--",
        APPROVALS_DIR,
    )
    return [item[3:].decode("utf-8", "replace") for item in out.split(b"\0") if len(item) > 3]


def commit_message(verb: str, stack: str, digest: str, reason: str) -> str:
    first = reason.strip().splitlines()[0].strip()
    return f"{verb} {stack} {digest[:12]}: {first}\n"


def _refuse_self_approval(approver: str, decision: Decision, author: str | None) -> None:
    """Four eyes, at once: the change's author may reject it, never approve it."""
    if decision == "approve" and same_principal(approver, author):
        raise SelfApprovalError(
            f"{approver} is the author of this change and cannot approve it (four eyes): "
            "nothing was written; ask a teammate (you may still --reject it)"
        )


def _refuse_dirty(root: Path) -> None:
    dirty = _dirty(root)
    if dirty:
        shown = ", ".join(dirty[:5]) + (" …" if len(dirty) > 5 else "")
        raise ApprovalsDirtyError(
            f"{APPROVALS_DIR}/ has uncommitted changes ({shown}); commit or discard them "
            "first so that the signed commit holds only your record"
        )


def write_approval(
    repo_dir: Path,
    *,
    stack: str,
    digest: str,
    decision: Decision,
    reason: str,
    now: datetime,
    valid_for: timedelta = DEFAULT_VALIDITY,
    ticket: str | None = None,
    push: bool = False,
    author: str | None = None,
) -> WrittenApproval:
    """Write the record of one decision and commit it alone with ``git commit -S``.

    ``author`` is the change's author: their approval is refused before anything is
    written (``SelfApprovalError``)."""
    stack = validate_stack(stack)
    digest = validate_digest(digest)
    setup = signing_setup(repo_dir)
    identity = approver_identity(repo_dir, setup)
    _refuse_self_approval(identity.approver, decision, author)
    record = ApprovalRecord.new(
        stack=stack,
        digest=digest,
        approver=identity.approver,
        decision=decision,
        reason=reason,
        now=now,
        valid_for=valid_for,
        ticket=ticket,
    )
    with open_repository(repo_dir) as repo:
        root = repository_root(repo)
        if repo.bare:
            raise RepositoryError(f"{root} is a bare repository; approve in a checkout")
        _refuse_dirty(root)
        target = root / record.path
        previous = target.read_bytes() if target.is_file() else None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_record(record), encoding="utf-8")
        try:
            run_git(root, "--literal-pathspecs", "add", "--", record.path)
            _commit(
                root,
                commit_message(record.decision, record.stack, record.digest, record.reason),
                [record.path],
            )
        except ApprovalError:
            _restore(root, record.path, target, previous)
            raise
        commit = head_commit(repo) or ""
        written = WrittenApproval(
            record=record,
            path=record.path,
            commit=commit,
            replaced=previous is not None,
            listed=identity.listed,
            public_key=setup.public_key,
        )
        if push:
            written = dataclasses.replace(written, pushed_to=_push(repo, root))
    return written


def recorded_digests(repo_dir: Path, stack: str) -> set[str]:
    """The digests of ``stack`` that have a directory below ``approvals/`` at HEAD."""
    stack = validate_stack(stack)
    with open_repository(repo_dir) as repo:
        root = repository_root(repo)
        head = head_commit(repo)
    if head is None:
        return set()
    prefix = f"{APPROVALS_DIR}/{stack_dir(stack)}/"
    return {
        e.path[len(prefix) :].split("/", 1)[0]
        for e in list_tree(root, head, prefix.rstrip("/"))
        if e.path.startswith(prefix)
    }


@dataclass(frozen=True)
class Withdrawal:
    """The approver's records of one change, deleted in one signed commit."""

    approver: str
    paths: tuple[str, ...]
    commit: str
    pushed_to: str | None = None


def withdraw_approval(
    repo_dir: Path, *, stack: str, digest: str, reason: str, push: bool = False
) -> Withdrawal:
    """Delete your own records of one change in a commit signed with your key: the only
    way a rejection stops vetoing (a deletion by anyone else does not lift it).

    When someone else already deleted your record (your rejection still vetoes), git
    cannot commit the deletion of a file that is not there: your record is first written
    back in one signed commit, then deleted in another."""
    stack = validate_stack(stack)
    digest = validate_digest(digest)
    if not reason.strip():
        raise ApprovalInputError("reason: must not be empty: say why you withdraw")
    setup = signing_setup(repo_dir)
    identity = approver_identity(repo_dir, setup)
    with open_repository(repo_dir) as repo:
        root = repository_root(repo)
        if repo.bare:
            raise RepositoryError(f"{root} is a bare repository; withdraw in a checkout")
        _refuse_dirty(root)
        head = head_commit(repo)
        mine = _own_records(root, head, stack, digest, identity.approver)
        if not mine:
            mine = _rewrite_deleted(root, head, stack, digest, identity.approver, setup)
        message = commit_message("withdraw", stack, digest, reason)
        contents = {path: (root / path).read_bytes() for path in mine}
        run_git(root, "--literal-pathspecs", "rm", "--quiet", "--", *mine)
        try:
            _commit(root, message, list(mine))
        except ApprovalError:
            for path, content in contents.items():
                _restore(root, path, root / path, content)
            raise
        withdrawal = Withdrawal(identity.approver, mine, head_commit(repo) or "")
        if push:
            withdrawal = dataclasses.replace(withdrawal, pushed_to=_push(repo, root))
    return withdrawal


def _is_mine(path: str, approver: str) -> bool:
    return same_principal(path.rpartition("/")[2].removesuffix(RECORD_SUFFIX), approver)


def _own_records(
    root: Path, head: str | None, stack: str, digest: str, approver: str
) -> tuple[str, ...]:
    entries = list_tree(root, head, change_dir(stack, digest)) if head else []
    return tuple(e.path for e in entries if _is_mine(e.path, approver))


def _rewrite_deleted(
    root: Path, head: str | None, stack: str, digest: str, approver: str, setup: SigningSetup
) -> tuple[str, ...]:
    """Write back, in a signed commit, the newest version of your deleted record (unless
    you deleted it yourself)."""
    history = path_changes(root, [head], [change_dir(stack, digest) + "/"]) if head else []
    newest = next((c for c in history if _is_mine(c.path, approver)), None)
    if (
        newest is not None
        and newest.origin.deleted
        and _signed_by(root, newest.origin.commit, setup)
    ):
        raise ApprovalInputError(
            f"{approver}'s decision on {stack} {digest[:12]} is not there any more: you "
            f"already withdrew it (commit {newest.origin.commit[:12]})"
        )
    written = next(
        (c for c in history if _is_mine(c.path, approver) and not c.origin.deleted), None
    )
    if written is None:
        raise ApprovalInputError(
            f"{approver} has no decision on {stack} {digest[:12]} here to withdraw "
            f"(nothing in {change_dir(stack, digest)}/ now or in its history)"
        )
    content = read_blobs(root, [written.origin.oid])[written.origin.oid]
    target = root / written.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    try:
        run_git(root, "--literal-pathspecs", "add", "--", written.path)
        _commit(
            root,
            commit_message("restore", stack, digest, "to withdraw it: someone else deleted it"),
            [written.path],
        )
    except ApprovalError:
        _restore(root, written.path, target, None)
        raise
    return (written.path,)


def _signed_by(root: Path, commit: str, setup: SigningSetup) -> bool:
    """Whether ``commit`` carries a good SSH signature by the key you sign with."""
    if setup.public_key is None:
        return False
    key = setup.public_key
    with tempfile.TemporaryDirectory(prefix="sre-own-key-") as tmp:
        allowed = Path(tmp) / "allowed_signers"
        allowed.write_text(f'me namespaces="git" {key}\n', encoding="utf-8")
        found = check_signatures(root, [commit], allowed).get(commit)
    return found is not None and found.status == "G" and found.key == key.fingerprint


def _commit(root: Path, message: str, paths: list[str]) -> None:
    # stdin stays the terminal: ssh-keygen may ask for the key's passphrase there.
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [  # noqa: S607
            "git",
            "-C",
            str(root),
            "--literal-pathspecs",
            "commit",
            "--quiet",
            "-S",
            "--only",
            "-m",
            message,
            "--",
            *paths,
        ],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = " / ".join(line.strip() for line in lines[-3:]) or f"exit {result.returncode}"
        raise CommitError(
            f"git commit -S failed, nothing was committed: {detail} (check that "
            "user.signingkey is your SSH key and that ssh-agent or its passphrase works)"
        )


def _restore(root: Path, relative: str, target: Path, previous: bytes | None) -> None:
    with contextlib.suppress(RepositoryError):
        run_git(root, "--literal-pathspecs", "reset", "--quiet", "--", relative, ok_codes=(0, 1))
    if previous is None:
        target.unlink(missing_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(previous)


def _push(repo: git.Repo, root: Path) -> str:
    try:
        branch = repo.active_branch
    except TypeError:
        raise PushError(
            "the approval is committed, but HEAD is not on a branch, so there is nowhere to "
            "push it; push it yourself (git push origin HEAD:<branch>)"
        ) from None
    upstream = branch.tracking_branch()
    if upstream is None:
        raise PushError(
            f"the approval is committed, but branch {branch.name} has no upstream; push it "
            f"with `git push -u origin {branch.name}`"
        )
    destination = f"{upstream.remote_name}/{upstream.remote_head}"
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [  # noqa: S607
            "git",
            "-C",
            str(root),
            "push",
            "--quiet",
            upstream.remote_name,
            f"HEAD:refs/heads/{upstream.remote_head}",
        ],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1].strip() if lines else f"exit {result.returncode}"
        raise PushError(
            f"the approval is committed but the push to {destination} failed: {detail}. If "
            "someone pushed meanwhile, run `git pull --no-rebase` and `git push` (a rebase "
            "would re-create your commit without its signature)"
        )
    return destination
