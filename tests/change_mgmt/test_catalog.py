"""Request validation in context: file names, uniqueness, the clock, and git history."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from change_mgmt.documents import DocumentError
from change_mgmt.environments import changes
from change_mgmt.environments.catalog import (
    EnvironmentState,
    folder_entries,
    load_request,
    request_files,
    state_of,
    validate_requests,
)
from change_mgmt.environments.request import EnvironmentRequest
from policies import config as policy_config
from tests.conftest import git, request_yaml


def _validate(root: Path, now: datetime, changed: set[Path] | None) -> list[str]:
    every = request_files(root / "stacks" / "environments")
    report = validate_requests(
        every, all_requests=every, base=root, now=now, is_new_or_changed=changed
    )
    return [str(p) for p in report.problems]


def test_unchanged_expired_request_is_reported_not_rejected(
    git_project: Callable[..., Path], now: datetime
) -> None:
    root = git_project(old=request_yaml("old", expires_at="2026-11-01T00:00:00Z"))
    changed = changes.changed_files(root, None, root / "stacks" / "environments")
    assert changed == set()
    every = request_files(root / "stacks" / "environments")
    report = validate_requests(
        every, all_requests=every, base=root, now=now, is_new_or_changed=changed
    )
    assert report.ok
    assert [r.request.name for r in report.expired(now)] == ["old"]


def test_changed_request_must_expire_within_window(
    git_project: Callable[..., Path], now: datetime
) -> None:
    root = git_project(old=request_yaml("old", expires_at="2026-11-01T00:00:00Z"))
    path = root / "stacks" / "environments" / "old.yaml"
    path.write_text(request_yaml("old", expires_at="2026-11-02T00:00:00Z"))
    changed = changes.changed_files(root, None, root / "stacks" / "environments")
    assert changed == {path.resolve()}
    assert _validate(root, now, changed) == [
        "stacks/environments/old.yaml:6:13: expires_at: 2026-11-02T00:00:00Z is in the past "
        "(now 2026-11-27T00:00:00Z); a new or changed request must expire in the future"
    ]


def test_changed_since_uses_merge_base_and_sees_untracked(git_project: Callable[..., Path]) -> None:
    root = git_project(a=request_yaml("a"), b=request_yaml("b"))
    envs = root / "stacks" / "environments"
    git(root, "checkout", "-q", "-b", "feature")
    (envs / "a.yaml").write_text(request_yaml("a", size="100users"))
    git(root, "commit", "-qam", "resize a")
    (envs / "c.yaml").write_text(request_yaml("c"))  # untracked, not yet committed
    # main moves on after the branch point: its change to b is not this branch's change
    git(root, "checkout", "-q", "main")
    (envs / "b.yaml").write_text(request_yaml("b", size="miniHA"))
    git(root, "commit", "-qam", "resize b on main")
    git(root, "checkout", "-q", "feature")
    (envs / "gone.yaml").write_text(request_yaml("gone"))
    git(root, "add", "stacks/environments/gone.yaml")
    git(root, "commit", "-qm", "add gone")
    git(root, "rm", "-q", "stacks/environments/gone.yaml")
    git(root, "commit", "-qm", "remove gone")
    changed = changes.changed_files(root, "main", envs)
    assert {p.name for p in changed} == {"a.yaml", "c.yaml"}


def test_unknown_ref_is_a_clear_error(git_project: Callable[..., Path]) -> None:
    root = git_project()
    with pytest.raises(changes.GitRefError, match="unknown git ref 'no-such-branch'"):
        changes.changed_files(root, "no-such-branch", root / "stacks" / "environments")


def test_changed_since_refuses_a_tag_that_shadows_the_branch(
    git_project: Callable[..., Path],
) -> None:
    """git resolves `main` to the tag first: a tag at the branch's head would make nothing
    "changed", so no request would be held to the lifetime window."""
    root = git_project(a=request_yaml("a"))
    git(root, "checkout", "-q", "-b", "feature")
    (root / "stacks" / "environments" / "b.yaml").write_text(request_yaml("b"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add b")
    git(root, "tag", "main")
    with pytest.raises(changes.GitRefError, match="'main' is ambiguous: it names refs/heads/main"):
        changes.changed_files(root, "main", root / "stacks" / "environments")
    changed = changes.changed_files(root, "refs/heads/main", root / "stacks" / "environments")
    assert {p.name for p in changed} == {"b.yaml"}


def test_changed_files_follow_renames_and_skip_ignored_and_deleted(
    git_project: Callable[..., Path],
) -> None:
    root = git_project(a=request_yaml("a"), b=request_yaml("b"), c=request_yaml("c"))
    envs = root / "stacks" / "environments"
    (root / ".gitignore").write_text("*.swp\n")
    git(root, "mv", "stacks/environments/a.yaml", "stacks/environments/renamed.yaml")
    (envs / "staged.yaml").write_text(request_yaml("staged"))
    git(root, "add", "stacks/environments/staged.yaml")
    (envs / "b.yaml").unlink()
    (envs / ".c.yaml.swp").write_text("editor scratch")
    (envs / "nested").mkdir()
    (envs / "nested" / "deep.yaml").write_text(request_yaml("deep"))
    (root / "outside.yaml").write_text(request_yaml("outside"))
    changed = changes.changed_files(root / "stacks", None, envs)
    assert {p.relative_to(envs).as_posix() for p in changed} == {
        "renamed.yaml",
        "staged.yaml",
        "nested/deep.yaml",
    }


def test_changed_since_accepts_commits_and_revision_suffixes(
    git_project: Callable[..., Path],
) -> None:
    root = git_project(a=request_yaml("a"))
    envs = root / "stacks" / "environments"
    (envs / "b.yaml").write_text(request_yaml("b"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "add b")
    first = git(root, "rev-parse", "HEAD~1").strip()
    for since in ("HEAD~1", first, first[:10]):
        assert {p.name for p in changes.changed_files(root, since, envs)} == {"b.yaml"}
    with pytest.raises(changes.GitRefError, match="unknown git ref '--all'"):
        changes.changed_files(root, "--all", envs)


def test_finding_changed_requests_does_not_import_gitpython() -> None:
    """gitpython costs ~0.1 s at every `sre env validate`; a few git processes do."""
    probe = (
        "import sys, change_mgmt.environments.catalog, change_mgmt.environments.changes; "
        "print('git' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_not_a_git_checkout_is_a_clear_error(tmp_path: Path) -> None:
    assert not changes.is_git_checkout(tmp_path)
    with pytest.raises(changes.GitRefError, match="not inside a git repository"):
        changes.changed_files(tmp_path, "main", tmp_path)


def test_name_collision_between_requests(tmp_path: Path, now: datetime) -> None:
    envs = tmp_path / "stacks" / "environments"
    envs.mkdir(parents=True)
    (envs / "taken.yaml").write_text(request_yaml("taken"))
    elsewhere = tmp_path / "copy"
    elsewhere.mkdir()
    (elsewhere / "taken.yaml").write_text(request_yaml("taken"))
    report = validate_requests(
        [elsewhere / "taken.yaml"],
        all_requests=request_files(envs),
        base=tmp_path,
        now=now,
        is_new_or_changed=None,
    )
    assert [str(p) for p in report.problems] == [
        "copy/taken.yaml:1:7: name: 'taken' is already used by stacks/environments/taken.yaml"
    ]


@pytest.mark.parametrize(
    ("hours_left", "state"),
    [
        (-1, EnvironmentState.EXPIRED),
        (0, EnvironmentState.EXPIRED),
        (23, EnvironmentState.EXPIRING),
        (24, EnvironmentState.EXPIRING),
        (25, EnvironmentState.ACTIVE),
    ],
)
def test_state_of(tmp_path: Path, now: datetime, hours_left: int, state: EnvironmentState) -> None:
    expires = (now + timedelta(hours=hours_left)).strftime("%Y-%m-%dT%H:%M:%SZ")
    path = tmp_path / "x.yaml"
    path.write_text(request_yaml("x", expires_at=expires))
    assert state_of(load_request(path).request, now) is state


def test_expiry_is_normalised_to_utc(tmp_path: Path) -> None:
    path = tmp_path / "tz.yaml"
    path.write_text(request_yaml("tz", expires_at="2026-11-29T14:00:00+02:00"))
    assert load_request(path).request.expires_at.isoformat() == "2026-11-29T12:00:00+00:00"


def test_secret_references_are_accepted(tmp_path: Path, now: datetime) -> None:
    path = tmp_path / "ref.yaml"
    path.write_text(
        request_yaml("ref")
        + "env:\n  MM_EMAILSETTINGS_SMTPPASSWORD: {secret: smtp, key: password}\n"
    )
    request = load_request(path, now=now, check_lifetime=True).request
    reference = request.env["MM_EMAILSETTINGS_SMTPPASSWORD"]
    assert not isinstance(reference, str)
    assert (reference.secret, reference.key) == ("smtp", "password")


def test_shipped_requests_are_valid(repo_root: Path, now: datetime) -> None:
    every = request_files(repo_root / "stacks" / "environments")
    assert len(every) >= 2
    report = validate_requests(
        every, all_requests=every, base=repo_root, now=now, is_new_or_changed=set()
    )
    assert report.ok, report.problems


def test_the_size_check_reads_the_policy_settings_it_is_given(
    tmp_path: Path, now: datetime
) -> None:
    """One source of truth: the pack's test_environment.allowed_sizes, not a list of our own."""
    path = tmp_path / "big.yaml"
    path.write_text(request_yaml("big", size="25000users"))
    with pytest.raises(DocumentError, match="test-env-size-cap"):
        load_request(path, now=now, policy=policy_config.DEFAULT_CONFIG)
    roomy = policy_config.PolicyConfig(
        test_environment=policy_config.TestEnvironmentSettings(
            allowed_sizes=("1000users", "25000users")
        )
    )
    assert load_request(path, now=now, policy=roomy).request.size == "25000users"


def test_recommended_app_labels_are_allowed_but_kubernetes_prefixes_are_not(
    tmp_path: Path, now: datetime
) -> None:
    path = tmp_path / "labelled.yaml"
    path.write_text(
        request_yaml("labelled")
        + "labels:\n  app.kubernetes.io/part-of: checkout\n  ticket: BE-1\n"
    )
    assert load_request(path, now=now).request.labels["app.kubernetes.io/part-of"] == "checkout"
    path.write_text(request_yaml("labelled") + "labels:\n  topology.kubernetes.io/zone: a\n")
    with pytest.raises(DocumentError, match="reserved for Kubernetes"):
        load_request(path, now=now)


def test_one_unreadable_file_never_hides_the_others(tmp_path: Path, now: datetime) -> None:
    envs = tmp_path / "stacks" / "environments"
    envs.mkdir(parents=True)
    (envs / "a-date.yaml").write_text(request_yaml("a-date", expires_at="2026-02-30T17:00:00Z"))
    (envs / "b-good.yaml").write_text(request_yaml("b-good"))
    (envs / "c-bad.yaml").write_text(request_yaml("c-bad", team="Back End"))
    (envs / "d.json").write_text("{}")
    entries = folder_entries(envs)
    report = validate_requests(
        entries, all_requests=request_files(envs), base=tmp_path, now=now, is_new_or_changed=None
    )
    assert [r.request.name for r in report.valid] == ["b-good"]
    assert sorted({p.path for p in report.problems}) == [
        "stacks/environments/a-date.yaml",
        "stacks/environments/c-bad.yaml",
        "stacks/environments/d.json",
    ]


def test_a_request_that_could_not_be_read_still_claims_its_file_name(
    tmp_path: Path, now: datetime
) -> None:
    """The uniqueness check reads every other request; an unreadable one must not crash it."""
    envs = tmp_path / "stacks" / "environments"
    envs.mkdir(parents=True)
    (envs / "broken.yaml").write_text("name: x\nexpires_at: 2026-02-30T17:00:00Z\n")
    (envs / "good.yaml").write_text(request_yaml("good"))
    report = validate_requests(
        [envs / "good.yaml"],
        all_requests=request_files(envs),
        base=tmp_path,
        now=now,
        is_new_or_changed=None,
    )
    assert report.ok, report.problems


def test_the_model_itself_refuses_credentials_in_any_field(now: datetime) -> None:
    """`sre env new --purpose …` builds the model directly, without a file."""
    data = {
        "name": "x",
        "owner": "a@example.com",
        "team": "t",
        "purpose": "see ghp_Q7rT2xW9kL4mN8pZ3vB6cY1dF5gH0jK2sA4e",
        "version": "10.11.2",
        "expires_at": now + timedelta(days=1),
    }
    with pytest.raises(ValidationError) as caught:
        EnvironmentRequest.model_validate(data)
    [error] = caught.value.errors()
    assert error["loc"] == ("purpose",) and "GitHub token" in error["msg"]
    assert "ghp_" not in str(caught.value)
