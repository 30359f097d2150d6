"""Benchmark: verify 1,000 signed approval records in a repository of 5,000 commits.

Builds the repository once in a temporary directory: ``approvers.yaml`` with four
approvers, then 5,000 commits on ``main`` of which every fifth writes one approval
record (``approvals/prod/<digest>/<approver>.yaml``, 250 changes × 4 approvers) in a
commit signed with the approver's ed25519 key, and the other 4,000 are unsigned filler
commits that change files outside ``approvals/``. Objects are written directly (one
pack, indexed with ``git index-pack``); signatures are real SSH signatures (``SSHSIG``, namespace
``git``) made in-process with ``cryptography`` when it is installed, else with
``ssh-keygen -Y sign``. Every record is checked to count, so the run proves the
signatures verify.

Then, in the same run and against the same allowed-signers file, it times

* the baseline: ``git log --format='%H %G? %GS' -- approvals/`` (reads the same commits
  and makes the same signature checks, nothing else), and
* ``GitApprovals(repo, "main").verify_all(...)``: every record listed, read, parsed,
  located, its writing commit found and its signature checked,

and prints both and their ratio (target ≤ 3×). For reference it also times
``GitApprovals.check`` of one change (4 records among the 1,000).

    python3 benchmarks/verify_approvals.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from change_mgmt.approvals import (  # noqa: E402
    ApprovalRecord,
    GitApprovals,
    allowed_signers_file,
    approvers_at,
    render_record,
)
from change_mgmt.approvals.gitio import open_repository  # noqa: E402

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)
APPROVERS = ("alice", "bob", "carol", "erin")
STACK = "prod"


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@dataclass
class Signer:
    """An ed25519 key that signs commits the way ``git commit -S`` with gpg.format=ssh does."""

    name: str
    directory: Path
    _private: Any = None
    public_line: str = ""

    def __post_init__(self) -> None:
        key_path = self.directory / self.name
        try:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        except ImportError:
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    self.name,
                    "-f",
                    str(key_path),
                ],
                check=True,
            )
            self.public_line = key_path.with_suffix(".pub").read_text().strip()
            return
        self._private = Ed25519PrivateKey.generate()
        public = self._private.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        self.public_line = public.decode() + f" {self.name}"
        key_path.write_bytes(
            self._private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)

    @property
    def email(self) -> str:
        return f"{self.name}@example.com"

    def sign(self, payload: bytes) -> str:
        """An armored SSHSIG over ``payload`` in the ``git`` namespace."""
        if self._private is None:
            return self._sign_with_ssh_keygen(payload)
        blob = base64.b64decode(self.public_line.split()[1])
        signed = (
            b"SSHSIG"
            + _string(b"git")
            + _string(b"")
            + _string(b"sha512")
            + _string(hashlib.sha512(payload).digest())
        )
        signature = _string(b"ssh-ed25519") + _string(self._private.sign(signed))
        raw = (
            b"SSHSIG"
            + struct.pack(">I", 1)
            + _string(blob)
            + _string(b"git")
            + _string(b"")
            + _string(b"sha512")
            + _string(signature)
        )
        text = base64.b64encode(raw).decode()
        lines = [text[i : i + 70] for i in range(0, len(text), 70)]
        return (
            "-----BEGIN SSH SIGNATURE-----\n" + "\n".join(lines) + "\n-----END SSH SIGNATURE-----\n"
        )

    def _sign_with_ssh_keygen(self, payload: bytes) -> str:
        result = subprocess.run(
            ["ssh-keygen", "-Y", "sign", "-n", "git", "-f", str(self.directory / self.name)],
            input=payload,
            capture_output=True,
            check=True,
        )
        return result.stdout.decode()


class ObjectStore:
    """Collects git objects in memory and writes them as one pack (``git index-pack``)."""

    TYPES: ClassVar[dict[str, int]] = {"commit": 1, "tree": 2, "blob": 3}

    def __init__(self) -> None:
        self.objects: dict[str, tuple[str, bytes]] = {}

    def write(self, kind: str, body: bytes) -> str:
        sha = hashlib.sha1(f"{kind} {len(body)}".encode() + b"\0" + body).hexdigest()
        self.objects.setdefault(sha, (kind, body))
        return sha

    def pack(self) -> bytes:
        out = bytearray(b"PACK" + struct.pack(">II", 2, len(self.objects)))
        for kind, body in self.objects.values():
            size = len(body)
            byte = (self.TYPES[kind] << 4) | (size & 0x0F)
            size >>= 4
            header = bytearray()
            while size:
                header.append(byte | 0x80)
                byte = size & 0x7F
                size >>= 7
            header.append(byte)
            out += header + zlib.compress(body, 1)
        out += hashlib.sha1(out).digest()
        return bytes(out)


@dataclass
class Tree:
    """A directory being built: files (mode, blob id) and subdirectories; hashes cached."""

    files: dict[str, str] = field(default_factory=dict)
    dirs: dict[str, Tree] = field(default_factory=dict)
    sha: str | None = None

    def put(self, path: str, blob: str) -> None:
        self.sha = None
        head, _, rest = path.partition("/")
        if rest:
            self.dirs.setdefault(head, Tree()).put(rest, blob)
        else:
            self.files[head] = blob

    def write(self, store: ObjectStore) -> str:
        if self.sha is None:
            entries = [(name, "100644", blob) for name, blob in self.files.items()]
            entries += [(name, "40000", sub.write(store)) for name, sub in self.dirs.items()]
            entries.sort(key=lambda e: e[0] + ("/" if e[1] == "40000" else ""))
            body = b"".join(
                f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha)
                for name, mode, sha in entries
            )
            self.sha = store.write("tree", body)
        return self.sha


def _commit_body(
    tree: str, parent: str | None, who: str, email: str, when: int, message: str
) -> bytes:
    lines = [f"tree {tree}"]
    if parent:
        lines.append(f"parent {parent}")
    lines += [f"author {who} <{email}> {when} +0000", f"committer {who} <{email}> {when} +0000"]
    return ("\n".join(lines) + "\n\n" + message + "\n").encode()


def _signed(body: bytes, signature: str) -> bytes:
    header, _, message = body.partition(b"\n\n")
    gpgsig = "gpgsig " + signature.rstrip("\n").replace("\n", "\n ")
    return header + b"\n" + gpgsig.encode() + b"\n\n" + message


def git(repo: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, **kwargs
    )


def build(repo: Path, keys: Path, commits: int, records: int) -> dict[str, Signer]:
    """``commits`` commits on main; ``records`` of them write one signed record each."""
    signers = {name: Signer(name, keys) for name in APPROVERS}
    git(repo.parent, "init", "-q", "-b", "main", str(repo))
    store = ObjectStore()
    tree = Tree()
    approvers = "version: 1\napprovers:\n" + "".join(
        f"  - principal: {s.email}\n    key: {s.public_line}\n    groups: [sre]\n"
        for s in signers.values()
    )
    tree.put("approvers.yaml", store.write("blob", approvers.encode()))
    tree.put("Pulumi.yaml", store.write("blob", b"name: sre-platform\nruntime: python\n"))
    start = int(NOW.timestamp()) - commits * 60
    parent = store.write(
        "commit", _commit_body(tree.write(store), None, "Admin", "admin@example.com", start, "base")
    )
    every = max(1, commits // records)
    written = 0
    for index in range(1, commits):
        when = start + index * 60
        if index % every == every - 1 and written < records:
            signer = signers[APPROVERS[written % len(APPROVERS)]]
            digest = hashlib.sha256(f"change-{written // len(APPROVERS)}".encode()).hexdigest()
            record = ApprovalRecord.new(
                stack=STACK,
                digest=digest,
                approver=signer.email,
                decision="approve",
                reason=f"checked change {written // len(APPROVERS)}",
                now=NOW - timedelta(minutes=30),
            )
            tree.put(record.path, store.write("blob", render_record(record).encode()))
            message = f"approve {STACK} {digest[:12]}: {record.reason}"
            body = _commit_body(
                tree.write(store), parent, signer.name.title(), signer.email, when, message
            )
            body = _signed(body, signer.sign(body))
            written += 1
        else:
            name = f"src/module-{index % 200:03d}.py"
            tree.put(name, store.write("blob", f"VALUE = {index}\n".encode()))
            body = _commit_body(
                tree.write(store), parent, "Dev", "dev@example.com", when, f"work {index}"
            )
        parent = store.write("commit", body)
    git(repo, "index-pack", "--stdin", input=store.pack())
    git(repo, "update-ref", "refs/heads/main", parent)
    git(repo, "reset", "-q", "--hard", "main")
    return signers


def timed(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    best = float("inf")
    result: object = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - began)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is kept)")
    parser.add_argument("--quick", action="store_true", help="100 records in 500 commits, one run")
    options = parser.parse_args()
    commits, records = (500, 100) if options.quick else (5000, 1000)
    repeat = 1 if options.quick else options.repeat
    work = Path(tempfile.mkdtemp(prefix="sre-bench-approvals-"))
    home = work / "home"
    home.mkdir()
    os.environ |= {
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
    }
    try:
        repo = work / "repo"
        keys = work / "keys"
        keys.mkdir()
        began = time.perf_counter()
        build(repo, keys, commits, records)
        print(
            f"built {commits} commits ({records} signed records) "
            f"in {time.perf_counter() - began:.1f} s"
        )
        with open_repository(repo) as opened:
            approvers = approvers_at(opened, "main")
        with allowed_signers_file(approvers) as signers_file:

            def baseline() -> bytes:
                return git(
                    repo,
                    "-c",
                    f"gpg.ssh.allowedSignersFile={signers_file}",
                    "log",
                    "--format=%H %G? %GS",
                    "--",
                    "approvals/",
                ).stdout

            base_time, output = timed(baseline, repeat)
        lines = bytes(output).decode().splitlines()  # type: ignore[arg-type]
        good = sum(1 for line in lines if line.split()[1] == "G")
        assert good == records, f"baseline saw {good} good signatures of {records}"

        source = GitApprovals(repo, "main")
        ours_time, report = timed(lambda: source.verify_all(author=None, now=NOW), repeat)
        counted = sum(1 for c in report.records if c.counts)  # type: ignore[attr-defined]
        assert counted == records, f"{counted} of {records} records count"
        digest = hashlib.sha256(b"change-0").hexdigest()
        one_time, one = timed(lambda: source.check(STACK, digest, author=None, now=NOW), repeat)
        assert sum(1 for c in one.records if c.counts) == len(APPROVERS)  # type: ignore[attr-defined]

        print(
            f"baseline git log --format='%H %G? %GS' -- approvals/: {base_time:7.3f} s "
            f"({len(lines)} commits, {good} good signatures)"
        )
        print(
            f"GitApprovals.verify_all:                             {ours_time:7.3f} s "
            f"({counted} of {records} records count)"
        )
        print(
            f"ratio verify_all / baseline:                         {ours_time / base_time:7.2f}x "
            "(target <= 3x)"
        )
        print(f"GitApprovals.check of one change (4 records):        {one_time:7.3f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
