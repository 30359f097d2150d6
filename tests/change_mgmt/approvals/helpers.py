"""Real keys, real repositories and real signed commits for the approval tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from change_mgmt.approvals import ApprovalRecord, render_record
from change_mgmt.cli.app import app
from change_mgmt.preview import ChangeSet, parse_preview_json
from tests.change_mgmt.preview.builders import preview_json, step

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
BASE = "main"
STACK = "prod"


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    key: Path
    """The private key (unencrypted, made for the test)."""

    @property
    def public(self) -> str:
        return self.key.with_suffix(".pub").read_text().strip()

    @property
    def author(self) -> str:
        return f"{self.name.title()} <{self.email}>"


PEOPLE = ("alice", "bob", "carol", "dave", "mallory", "eve")
GROUPS = {
    "alice": ("sre", "platform"),
    "bob": ("platform",),
    "carol": ("platform",),
    "dave": ("platform",),
    "mallory": ("platform",),
}
"""Everyone but eve is listed in approvers.yaml on the base branch; dave makes the change."""


def make_people(directory: Path) -> dict[str, Person]:
    people = {}
    for name in PEOPLE:
        key = directory / name
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
            check=True,
            capture_output=True,
        )
        people[name] = Person(name, f"{name}@example.com", key)
    return people


@contextmanager
def isolated_git(home: Path) -> Iterator[None]:
    """Only a repository's own git config counts, never the machine's or the user's."""
    home.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("XDG_CONFIG_HOME", str(home))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        patch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
        for name in (
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_AUTHOR_NAME",
            "GIT_AUTHOR_EMAIL",
            "GIT_COMMITTER_NAME",
            "GIT_COMMITTER_EMAIL",
            "SSH_AUTH_SOCK",
            "SRE_CHANGE_AUTHOR",
            "SRE_PROJECT_DIR",
        ):
            patch.delenv(name, raising=False)
        yield


def git(cwd: Path, *args: str, who: Person | None = None, key: Path | None = None) -> str:
    """Run git as ``who`` (author and committer); sign with ``key`` when given."""
    env = dict(os.environ)
    name, email = (who.name.title(), who.email) if who else ("Admin", "admin@example.com")
    env |= {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key else []
    result = subprocess.run(
        ["git", *signing, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def approvers_yaml(people: dict[str, Person], names: tuple[str, ...] = tuple(GROUPS)) -> str:
    lines = ["version: 1", "approvers:"]
    for name in names:
        person = people[name]
        lines += [
            f"  - principal: {person.email}",
            f"    key: {person.public}",
            f"    groups: [{', '.join(GROUPS.get(name, ()))}]",
        ]
    return "\n".join(lines) + "\n"


def make_repository(root: Path, people: dict[str, Person]) -> Path:
    """``main`` with Pulumi.yaml and approvers.yaml; branch ``change`` (checked out) with
    dave's change to the stack."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", BASE)
    (root / "Pulumi.yaml").write_text("name: sre-platform\nruntime: python\n")
    (root / "approvers.yaml").write_text(approvers_yaml(people))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "change")
    (root / "stacks").mkdir()
    (root / "stacks" / "prod.yaml").write_text("replicas: 3\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "scale prod", who=people["dave"])
    return root


def copy_repository(template: Path, target: Path) -> Path:
    return Path(shutil.copytree(template, target, symlinks=True))


def changeset(variant: str = "web", *, stack: str = STACK, critical: bool = False) -> ChangeSet:
    """A high-risk change (open ingress, 2 approvals) or a critical one (bucket delete:
    2 approvals, one from sre). Another ``variant`` is another preview: another digest."""
    if critical:
        steps = [step("delete", "aws:s3/bucket:Bucket", variant, stack=stack, old={})]
    else:
        steps = [
            step(
                "update",
                "aws:ec2/securityGroup:SecurityGroup",
                variant,
                stack=stack,
                old={"ingress": []},
                new={"ingress": [{"protocol": "tcp", "fromPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]},
                detailed={"ingress[0]": "add"},
            )
        ]
    return parse_preview_json(preview_json(*steps), stack=stack)


def write_record(
    repo: Path,
    *,
    stack: str,
    digest: str,
    approver: str,
    decision: str = "approve",
    reason: str = "checked the plan",
    created: datetime = NOW,
    valid_for: timedelta = timedelta(hours=24),
    path: str | None = None,
    text: str | None = None,
) -> str:
    record = ApprovalRecord.new(
        stack=stack,
        digest=digest,
        approver=approver,
        decision=decision,  # type: ignore[arg-type]
        reason=reason,
        now=created,
        valid_for=valid_for,
    )
    relative = path or record.path
    target = repo / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text if text is not None else render_record(record))
    return relative


def commit_record(
    repo: Path,
    signer: Person | None,
    *,
    stack: str = STACK,
    digest: str,
    approver: Person | str | None = None,
    author: Person | None = None,
    message: str = "approve",
    **fields: object,
) -> str:
    """Write one record and commit it, signed with ``signer``'s key (None: unsigned).
    The commit's author is ``author`` (default: the signer)."""
    named = approver if approver is not None else signer
    email = named.email if isinstance(named, Person) else str(named)
    relative = write_record(repo, stack=stack, digest=digest, approver=email, **fields)  # type: ignore[arg-type]
    git(repo, "add", "--", relative)
    git(
        repo,
        "commit",
        "-q",
        *(["-S"] if signer else []),
        "-m",
        message,
        who=author or signer,
        key=signer.key if signer else None,
    )
    return git(repo, "rev-parse", "HEAD").strip()


# -- the CLI, black-box: `sre gate` and `sre approve` as a user runs them ----------------

INSIDE_WINDOW = "2026-11-27T10:00:00+00:00"
"""An ``--at`` inside the production change window, so only approvals decide."""


def open_ingress_preview(path: Path, port: int = 22) -> Path:
    """A ``pulumi preview --json`` that opens ``port`` to the world: high risk, 2 approvals.
    Another port is another preview (another digest)."""
    path.write_text(
        preview_json(
            step(
                "update",
                "aws:ec2/securityGroup:SecurityGroup",
                "web",
                old={"ingress": []},
                new={
                    "ingress": [
                        {
                            "protocol": "tcp",
                            "fromPort": port,
                            "toPort": port,
                            "cidrBlocks": ["0.0.0.0/0"],
                        }
                    ]
                },
                detailed={"ingress[0]": "add"},
            )
        )
    )
    return path


def sre(*args: str) -> Result:
    """The ``sre`` typer app, in process."""
    return CliRunner().invoke(app, list(args))


def sre_gate(
    repo: Path,
    preview: Path,
    *extra: str,
    author: str = "dave@example.com",
    base_ref: str | None = BASE,
) -> Result:
    """``sre gate --format json`` of ``preview`` on stack prod as ``author`` (``base_ref``
    None: the gate's default base)."""
    base = ["--base-ref", base_ref] if base_ref is not None else []
    return sre(
        "gate",
        "--project-dir",
        str(repo),
        "--stack",
        STACK,
        "--preview",
        str(preview),
        "--author",
        author,
        "--at",
        INSIDE_WINDOW,
        "--format",
        "json",
        *base,
        *extra,
    )


def gate_json(
    repo: Path, preview: Path, *extra: str, author: str = "dave@example.com"
) -> tuple[int, Any]:
    """The exit code (0 open, 3 closed) and JSON document of :func:`sre_gate`."""
    result = sre_gate(repo, preview, *extra, author=author)
    assert result.exit_code in (0, 3), result.output
    return result.exit_code, json.loads(result.stdout)


def sre_approve(repo: Path, person: Person, digest: str, *extra: str) -> Result:
    """``sre approve`` on stack prod as ``person``, signing with their own key."""
    git(repo, "config", "user.email", person.email)
    git(repo, "config", "user.name", person.name.title())
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(person.key))
    return sre(
        "approve",
        "--project-dir",
        str(repo),
        "--stack",
        STACK,
        "--digest",
        digest,
        "--reason",
        f"{person.name} checked the rule",
        *extra,
    )
