"""Attacks on signed approvals, black-box through `sre approve` and `sre gate` in real
SSH-signed repositories: each one opened the gate (or hid a veto) before it was fixed.

The repository: ``main`` lists alice (sre), bob, carol, dave and mallory; dave's branch
``change`` changes prod; eve's key is listed nowhere. The preview opens SSH to the
world: high risk, two approvals.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from change_mgmt.approvals import record_path
from tests.change_mgmt.approvals.helpers import (
    BASE,
    Person,
    approvers_yaml,
    commit_record,
    gate_json,
    git,
    isolated_git,
    make_people,
    make_repository,
    open_ingress_preview,
    sre,
    sre_approve,
    sre_gate,
)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("people"))


@pytest.fixture
def repo(tmp_path: Path, people: dict[str, Person]) -> Iterator[Path]:
    with isolated_git(tmp_path / "home"):
        yield make_repository(tmp_path / "infra", people)


@pytest.fixture
def preview(tmp_path: Path) -> Path:
    return open_ingress_preview(tmp_path / "preview.json")


@pytest.fixture
def digest(repo: Path, preview: Path) -> str:
    code, document = gate_json(repo, preview)
    assert code == 3
    return str(document["digest"])


def _approved(repo: Path, person: Person, digest: str, *extra: str) -> None:
    result = sre_approve(repo, person, digest, *extra)
    assert result.exit_code == 0, result.output


def _present(document: dict) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    found: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for approval in document["approvals"]["present"]:
        found.setdefault(approval["approver"].lower(), []).append(approval)
    return found


# -- one person counts once -------------------------------------------------------------


def test_one_person_spelt_twice_counts_once(
    repo: Path, preview: Path, digest: str, people: dict[str, Person]
) -> None:
    alice = people["alice"]
    _approved(repo, alice, digest)
    # Alice signs a second record for the same change under another spelling of her name.
    commit_record(repo, alice, digest=digest, approver="Alice@example.com", created=_now())
    code, document = gate_json(repo, preview)
    assert code == 3, document["decision"]["reasons"]
    assert len(document["approvals"]["counted_approvers"]) == 1
    [one, two] = _present(document)["alice@example.com"]
    assert [one["counts"], two["counts"]].count(True) == 1
    duplicate = one if not one["counts"] else two
    assert duplicate["why_not"].startswith("duplicate: ")
    assert "one principal counts once" in duplicate["why_not"]


# -- four eyes: the author of this run ----------------------------------------------------


def test_the_author_of_this_run_is_checked_not_an_earlier_run_s(
    repo: Path, preview: Path, people: dict[str, Person]
) -> None:
    """Passes once run.py checks this run's author (the lead wires it)."""
    code, first = gate_json(repo, preview, author="carol@example.com")
    assert code == 3
    digest = first["digest"]
    # dave, the real author, signs an approval of his own change by hand...
    commit_record(repo, people["dave"], digest=digest, created=_now())
    _approved(repo, people["bob"], digest)
    # ...but the gate of his change, run with him as its author, does not count it.
    code, document = gate_json(repo, preview, author="dave@example.com")
    assert code == 3, document["decision"]["reasons"]
    assert document["approvals"]["counted_approvers"] == ["bob@example.com"]
    [dave] = _present(document)["dave@example.com"]
    assert dave["why_not"].startswith("self-approval: ")


def test_the_author_is_refused_at_once_however_they_spell_it(
    repo: Path, digest: str, people: dict[str, Person]
) -> None:
    result = sre_approve(repo, people["dave"], digest, "--author", "Dave@Example.COM")
    assert result.exit_code == 2
    assert "is the author of this change and cannot approve it" in result.output
    assert not (repo / "approvals").exists()
    assert sre_approve(repo, people["dave"], digest, "--reject").exit_code == 0  # may veto


# -- the base ref is a branch -------------------------------------------------------------


def _tag_a_friendlier_approvers_file(repo: Path, people: dict[str, Person], tag: str) -> None:
    """dave commits an approvers.yaml that also lists eve (a key he holds) and tags it."""
    (repo / "approvers.yaml").write_text(
        approvers_yaml(people, ("alice", "bob", "carol", "dave", "mallory", "eve"))
    )
    git(repo, "commit", "-qam", "list eve", who=people["dave"])
    git(repo, "tag", tag)


@pytest.mark.parametrize("base_ref", [BASE, None], ids=["--base-ref main", "default base"])
def test_a_tag_named_like_the_base_branch_never_supplies_the_approvers(
    repo: Path, preview: Path, digest: str, people: dict[str, Person], base_ref: str | None
) -> None:
    _tag_a_friendlier_approvers_file(repo, people, "main" if base_ref else "origin/main")
    _approved(repo, people["eve"], digest)
    _approved(repo, people["mallory"], digest)
    result = sre_gate(repo, preview, base_ref=base_ref)
    assert result.exit_code == 1, result.output
    if base_ref:
        assert "base ref 'main' is ambiguous: it names refs/heads/main, refs/tags/main" in (
            " ".join(result.output.split())
        )
    else:
        assert "base ref 'origin/main' is refs/tags/origin/main, not a branch" in (
            " ".join(result.output.split())
        )
    assert "Traceback" not in result.output


def test_a_remote_tracking_base_is_used_and_its_commit_shown(
    repo: Path, preview: Path, digest: str, people: dict[str, Person], tmp_path: Path
) -> None:
    _approved(repo, people["bob"], digest)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-single-branch", f"file://{repo}", str(clone))
    git(clone, "checkout", "-q", "change")
    assert git(clone, "branch", "--list", "main") == ""  # only origin/main, as in CI
    result = sre(
        "approvals",
        "--project-dir",
        str(clone),
        "--stack",
        "prod",
        "--digest",
        digest,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert '"base_ref": "origin/main"' in result.stdout
    main = git(repo, "rev-parse", "refs/heads/main").strip()
    assert f'"base_commit": "{main}"' in result.stdout


@pytest.mark.parametrize("output", ["json", "text", "markdown"])
def test_the_gate_prints_the_commit_its_base_resolved_to_in_every_format(
    repo: Path, preview: Path, output: str
) -> None:
    result = sre_gate(repo, preview, "--format", output)
    assert result.exit_code == 3, result.output
    main = git(repo, "rev-parse", "refs/heads/main").strip()
    if output == "json":
        approvals = json.loads(result.stdout)["approvals"]
        assert (approvals["base_ref"], approvals["base_commit"]) == (BASE, main)
        assert approvals["rules_from_base"] is True
    else:
        # Folded at word boundaries on a narrow terminal: compare the words.
        words = " ".join(result.stdout.split())
        assert f"Base: {BASE} at {main}; rules and approvers from there" in words


def test_the_default_base_is_origin_main_over_main(
    repo: Path, preview: Path, people: dict[str, Person]
) -> None:
    git(repo, "checkout", "-q", BASE)
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "commit", "-q", "--allow-empty", "-m", "local only")  # main moves on locally
    git(repo, "checkout", "-q", "change")
    result = sre_gate(repo, preview, base_ref=None)
    assert result.exit_code == 3, result.output
    assert '"base_ref": "origin/main"' in result.stdout


# -- a veto cannot be deleted -------------------------------------------------------------


def test_a_deleted_rejection_keeps_vetoing_until_its_signer_withdraws_it(
    repo: Path, preview: Path, digest: str, people: dict[str, Person]
) -> None:
    _approved(repo, people["carol"], digest, "--reject")
    _approved(repo, people["alice"], digest)
    _approved(repo, people["bob"], digest)
    carol = record_path("prod", digest, people["carol"].email)
    # dave deletes carol's rejection in an unsigned commit.
    git(repo, "rm", "-q", carol)
    git(repo, "commit", "-qm", "drop stale file", who=people["dave"])
    code, document = gate_json(repo, preview)
    assert code == 3
    assert [r["code"] for r in document["decision"]["reasons"]] == ["rejected"]
    [veto] = _present(document)["carol@example.com"]
    assert veto["counts"] and veto["decision"] == "reject"

    # Nobody else can withdraw it; carol can, with signed commits.
    refused = sre_approve(repo, people["mallory"], digest, "--withdraw")
    assert refused.exit_code == 2 and "has no decision on prod" in refused.output
    _approved(repo, people["carol"], digest, "--withdraw")
    assert not (repo / carol).exists()
    code, document = gate_json(repo, preview)
    assert code == 0, document["decision"]["reasons"]
    assert "carol@example.com" not in _present(document)


def test_a_rejection_overwritten_by_someone_else_s_signed_commit_keeps_vetoing(
    repo: Path, preview: Path, digest: str, people: dict[str, Person]
) -> None:
    _approved(repo, people["carol"], digest, "--reject")
    _approved(repo, people["alice"], digest)
    _approved(repo, people["bob"], digest)
    # mallory signs, with her own listed key, an approval in carol's name over the veto.
    commit_record(repo, people["mallory"], digest=digest, approver=people["carol"], created=_now())
    code, document = gate_json(repo, preview)
    assert code == 3
    verdicts = {(a["decision"], a["counts"]) for a in _present(document)["carol@example.com"]}
    assert verdicts == {("reject", True), ("approve", False)}
    # carol's own later decision does replace her veto.
    _approved(repo, people["carol"], digest)
    code, document = gate_json(repo, preview)
    assert code == 0, document["decision"]["reasons"]


# -- digests by prefix --------------------------------------------------------------------


def test_approve_accepts_a_unique_prefix_of_twelve_hex_digits(
    repo: Path, preview: Path, digest: str, people: dict[str, Person]
) -> None:
    short = sre_approve(repo, people["bob"], digest[:11])
    assert short.exit_code == 2 and "at least 12" in short.output
    unknown = sre_approve(repo, people["bob"], "0" * 12)
    assert unknown.exit_code == 2 and "no change known here starts with it" in unknown.output
    _approved(repo, people["bob"], digest[:12])  # the gate recorded the change: it is known
    assert (repo / record_path("prod", digest, people["bob"].email)).is_file()


def _now() -> datetime:
    return datetime.now(UTC)  # the gate judges expiry by the real clock
