"""A project checkout, a stand-in Pulumi backend and requests, for the lifecycle tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, git
from tests.fakes.pulumi_cli import calls_of, install_fake_pulumi, stack_state

PLATFORM_FILE = """\
config:
  aws:region: eu-west-1
  sre-platform:vpcId: vpc-0123456789abcdef0
  sre-platform:dbSubnetGroup: cloud-test-private
  sre-platform:dbSecurityGroupIds: [sg-0123456789abcdef0]
  sre-platform:testDomain: test.chat.acme.io
  sre-platform:sharedDbEndpoint: shared.cluster-abc.eu-west-1.rds.amazonaws.com
  sre-platform:sharedBucket: acme-test-shared-files
  sre-platform:oidcProviderArn: arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC
  sre-platform:testTlsSecret: ingress-nginx/wildcard-tls
"""
SHARED_DB_PASSWORD = "shared-db-pw-Zq81xLmR"


def request_text(name: str, expires_at: datetime, *, database: str = "operator-managed") -> str:
    stamp = expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"name: {name}\nowner: dana.kim@example.com\nteam: backend\n"
        f"purpose: Test the lifecycle of {name}\nsize: miniSingleton\n"
        f'version: "10.11.2"\ndatabase: {database}\nfilestore: operator-managed\n'
        f"expires_at: {stamp}\n"
    )


def hours(n: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(hours=n)


@dataclass
class Checkout:
    root: Path

    @property
    def requests(self) -> Path:
        return self.root / "stacks" / "environments"

    def write(self, name: str, text: str, *, commit: bool = True) -> None:
        (self.requests / f"{name}.yaml").write_text(text)
        if commit:
            self.commit(f"request {name}")

    def delete(self, name: str, *, commit: bool = True) -> None:
        (self.requests / f"{name}.yaml").unlink()
        if commit:
            self.commit(f"remove {name}")

    def commit(self, message: str) -> None:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)


@dataclass
class Backend:
    bin_dir: Path
    calls: Path

    def state(self) -> dict[str, Any]:
        return stack_state(self.bin_dir)

    def called(self, command: str) -> list[dict[str, object]]:
        """The calls whose first argument is ``command`` (none when pulumi never ran)."""
        return calls_of(self.calls, command) if self.calls.exists() else []

    def stacks(self) -> dict[str, Any]:
        stacks: dict[str, Any] = self.state()["stacks"]
        return stacks


def make_checkout(tmp_path: Path, **requests: str) -> Checkout:
    root = tmp_path / "project"
    (root / "stacks" / "environments").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "Pulumi.yaml", root)
    (root / "policies").mkdir()
    for name in ("PulumiPolicy.yaml", "config.yaml"):
        shutil.copy(REPO_ROOT / "policies" / name, root / "policies")
    checkout = Checkout(root)
    for name, text in requests.items():
        checkout.write(name, text, commit=False)
    git(root, "init", "-q", "-b", "main")
    checkout.commit("base")
    return checkout


def make_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Backend]:
    def install(stacks: dict[str, dict[str, Any]] | None = None, **kwargs: Any) -> Backend:
        bin_dir = tmp_path / "bin"
        calls = install_fake_pulumi(bin_dir, stacks=stacks or {}, **kwargs)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("PULUMI_HOME", str(tmp_path / "pulumi-home"))
        return Backend(bin_dir, calls)

    return install
