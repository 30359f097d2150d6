"""The two documents: approval records and approvers.yaml (pure, no git)."""

from __future__ import annotations

import subprocess
import unicodedata
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from change_mgmt.approvals import (
    ApprovalInputError,
    ApprovalRecord,
    ApproversFile,
    ApproversFileError,
    load_approvers,
    load_record,
    parse_public_key,
    record_path,
    render_record,
    stack_dir,
    validate_digest,
)
from change_mgmt.documents import DocumentError
from tests.change_mgmt.approvals.helpers import NOW, Person, approvers_yaml

DIGEST = "ab" * 32


def _record(**overrides: object) -> ApprovalRecord:
    values: dict[str, object] = {
        "stack": "acme/sre-platform/prod",
        "digest": DIGEST,
        "approver": "alice@example.com",
        "decision": "approve",
        "reason": "checked",
        "now": NOW,
    }
    values.update(overrides)
    return ApprovalRecord.new(**values)  # type: ignore[arg-type]


def test_the_layout_replaces_slashes_in_stack_names() -> None:
    assert stack_dir("acme/sre-platform/prod") == "acme_sre-platform_prod"
    assert _record().path == record_path("acme/sre-platform/prod", DIGEST, "alice@example.com")
    assert _record().path == f"approvals/acme_sre-platform_prod/{DIGEST}/alice@example.com.yaml"


def test_a_record_expires_a_day_after_it_was_made_by_default(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        f"stack: prod\ndigest: {DIGEST}\ndecision: reject\napprover: bob@example.com\n"
        "reason: not now\ncreated_at: 2026-11-27T10:00:00Z\n"
    )
    record = load_record(path)
    assert record.expires_at is None and record.expires == NOW + timedelta(hours=24)
    assert _record(valid_for=timedelta(hours=2)).expires == NOW + timedelta(hours=2)


@settings(max_examples=60, deadline=None)
@given(
    reason=st.text(min_size=1, max_size=200).filter(lambda text: text.strip()),
    ticket=st.none() | st.from_regex(r"[A-Z]{2,5}-[1-9][0-9]{0,4}", fullmatch=True),
    minutes=st.integers(min_value=1, max_value=60 * 24 * 30),
)
def test_a_rendered_record_reads_back_as_itself(
    tmp_path_factory: pytest.TempPathFactory, reason: str, ticket: str | None, minutes: int
) -> None:
    if any(
        ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in reason
    ):
        # YAML cannot carry these unchanged: refused up front.
        with pytest.raises(ApprovalInputError, match="control characters"):
            _record(reason=reason)
        return
    record = _record(reason=reason, ticket=ticket, valid_for=timedelta(minutes=minutes))
    path = tmp_path_factory.mktemp("roundtrip") / "r.yaml"
    path.write_text(render_record(record), encoding="utf-8")
    assert load_record(path) == record.model_copy(update={"expires_at": record.expires})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("digest: nothex\n", "r.yaml:2:9: digest: a change digest is 64 lowercase hex"),
        ("aprover: x@y.z\n", "r.yaml:2:1: aprover: unknown field; did you mean 'approver'?"),
        ("reason: '  '\n", "r.yaml:2:9: reason: must not be empty"),
        ("expires_at: 2026-11-27T09:00:00Z\n", "r.yaml:2:13: expires_at: must be after created_at"),
        (
            "created_at: 2026-11-27T10:00:00\n",
            "r.yaml:2:13: created_at: Input should have timezone",
        ),
        ("approver: '*@example.com'\n", "r.yaml:2:11: approver: '*@example.com' is not an email"),
    ],
)
def test_a_bad_record_names_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    base = {
        "stack": "prod",
        "digest": DIGEST,
        "decision": "approve",
        "approver": "alice@example.com",
        "reason": "ok",
        "created_at": "2026-11-27T10:00:00Z",
    }
    key = text.split(":", maxsplit=1)[0]
    base.pop(key, None)
    if key == "aprover":
        base.pop("approver")
    body = text + "".join(f"{k}: {v}\n" for k, v in base.items())
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\n" + body)
    with pytest.raises(DocumentError) as caught:
        load_record(path, display_path="r.yaml")
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value


def test_digests_must_be_64_hex() -> None:
    assert validate_digest(DIGEST.upper()) == DIGEST
    for bad in ("", "ab" * 31, "zz" * 32, DIGEST + "0"):
        with pytest.raises(ApprovalInputError, match="64 lowercase hex"):
            validate_digest(bad)


def test_approvers_make_git_s_allowed_signers_lines(
    people: dict[str, Person], tmp_path: Path
) -> None:
    path = tmp_path / "approvers.yaml"
    path.write_text(approvers_yaml(people))
    approvers = load_approvers(path)
    alice = people["alice"]
    assert approvers.by_principal("ALICE@example.com") == approvers.approvers[0]
    assert approvers.approvers[0].groups == ("sre", "platform")
    line = approvers.allowed_signers().splitlines()[0]
    key_type, body, _comment = alice.public.split()
    assert line == f'alice@example.com namespaces="git" {key_type} {body}'
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(alice.key.with_suffix(".pub"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert parse_public_key(alice.public).fingerprint == listed
    assert approvers.by_fingerprint(listed) == approvers.approvers[0]


def _approver_problems(path: Path, text: str) -> list[str]:
    path.write_text(text)
    with pytest.raises(ApproversFileError) as caught:
        load_approvers(path, display_path="approvers.yaml")
    return [str(p) for p in caught.value.problems]


def _expect(messages: list[str], expected: list[str]) -> None:
    for start in expected:
        assert any(m.startswith(start) for m in messages), (start, messages)
    assert len(messages) == len(expected), messages


def test_approvers_yaml_problems_carry_lines(people: dict[str, Person], tmp_path: Path) -> None:
    rsa_body = "AAAAB3NzaC1yc2EAAAADAQAB"  # says ssh-rsa
    messages = _approver_problems(
        tmp_path / "approvers.yaml",
        "approvers:\n"
        f"  - principal: alice@example.com\n    key: {people['alice'].public}\n"
        "    groups: [SRE]\n"
        "  - principal: 'dave@example.com, *'\n    key: ssh-dss AAAAB3NzaC1kc3MAAACBAP\n"
        f"  - principal: eve@example.com\n    key: ssh-ed25519 {rsa_body} eve\n"
        f"  - principal: x@example.com\n    key: {people['bob'].public}\n    grups: []\n",
    )
    _expect(
        messages,
        [
            "approvers.yaml:4:14: approvers[0].groups[0]: 'SRE' is not a group name",
            "approvers.yaml:5:16: approvers[1].principal: 'dave@example.com, *' is not an email",
            "approvers.yaml:6:10: approvers[1].key: key type 'ssh-dss' is not allowed",
            "approvers.yaml:8:10: approvers[2].key: the key body is not a ssh-ed25519 key",
            "approvers.yaml:11:5: approvers[3].grups: unknown field",
        ],
    )


def test_approvers_and_keys_are_listed_once(people: dict[str, Person], tmp_path: Path) -> None:
    alice = people["alice"].public
    messages = _approver_problems(
        tmp_path / "approvers.yaml",
        "approvers:\n"
        f"  - principal: alice@example.com\n    key: {alice}\n"
        f"  - principal: Alice@Example.com\n    key: {people['bob'].public}\n"
        f"  - principal: carol@example.com\n    key: {alice}\n",
    )
    _expect(
        messages,
        [
            "approvers.yaml:4:16: approvers[1].principal: Alice@Example.com is already approvers[0]",
            "approvers.yaml:7:10: approvers[2].key: this key is already the key of approvers[0]",
        ],
    )


def test_a_key_cannot_smuggle_another_allowed_signers_line() -> None:
    with pytest.raises(ValueError, match="one line"):
        parse_public_key('ssh-ed25519 AAAA x\n* namespaces="git" ssh-ed25519 BBBB')
    assert ApproversFile().allowed_signers() == ""


def test_record_times_are_utc_seconds() -> None:
    record = _record(now=NOW.replace(microsecond=123456).astimezone(UTC))
    assert record.created_at == NOW
    assert "created_at: '2026-11-27T10:00:00Z'" in render_record(record)
