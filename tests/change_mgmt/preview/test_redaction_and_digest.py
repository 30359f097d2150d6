"""No secret survives parsing; the digest identifies exactly the change."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from change_mgmt.preview import PreviewError, parse_event_stream, parse_preview_json
from change_mgmt.preview.redact import (
    _CREDENTIAL_SHAPES,
    _URL_PASSWORD,
    REDACTED,
    SECRET_SIG_KEY,
    SECRET_SIG_VALUE,
    is_credential_key,
    redact,
    scrub_text,
)
from tests.change_mgmt.preview.builders import as_events, preview_json, step

PLAINTEXT = "hunter2-Sup3rSecret"
SIGIL = {SECRET_SIG_KEY: SECRET_SIG_VALUE, "ciphertext": "v1:AAAAopaque=="}


def _secret_preview() -> str:
    return preview_json(
        step(
            "update",
            "aws:rds/instance:Instance",
            "db",
            old={"password": PLAINTEXT, "username": "app"},
            new={
                "password": SIGIL,
                "masterPassword": PLAINTEXT,
                "tags": {"team": "sre"},
                "userData": "curl https://admin:" + PLAINTEXT + "@example.com/x",
                "privateKey": "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----",
                "env": [{"name": "GITHUB_TOKEN", "value": "ghp_" + "a1B2" * 9}],
                "keys": {"accessKeyId": "AKIAABCDEFGHIJKLMNOP"},
                "secretName": "db-credentials",
                "kmsKeyId": "alias/rds",
                "manageMasterUserPassword": False,
            },
            detailed={"password": "update"},
        )
    )


def test_no_secret_value_survives_either_format() -> None:
    text = _secret_preview()
    for changeset in (
        parse_preview_json(text),
        parse_event_stream(as_events(*json.loads(text)["steps"])),
    ):
        (change,) = changeset.changes
        dumped = json.dumps([change.old_inputs, change.new_inputs])
        for secret in (PLAINTEXT, "MIIEabc", "ghp_a1B2", "AKIAABCDEFGHIJKLMNOP", "v1:AAAAopaque=="):
            assert secret not in dumped
        new = change.new_inputs
        assert new is not None
        assert new["password"] == "[secret]"
        assert new["masterPassword"] == "[secret]"
        assert new["userData"] == "curl https://admin:[secret]@example.com/x"
        # Pointers to secrets and harmless flags stay readable.
        assert new["secretName"] == "db-credentials"
        assert new["kmsKeyId"] == "alias/rds"
        assert new["manageMasterUserPassword"] is False
        assert new["tags"] == {"team": "sre"}


def test_secrets_in_messages_are_scrubbed() -> None:
    line = {
        "diagnosticEvent": {
            "severity": "error",
            "message": "<{%fg 1%}>failed: postgres://app:" + PLAINTEXT + "@db:5432/x<{%reset%}>",
        }
    }
    changeset = parse_event_stream(json.dumps(line) + "\n", stack="prod")
    assert changeset.diagnostics[0].message == "failed: postgres://app:[secret]@db:5432/x"


@pytest.mark.parametrize(
    ("key", "credential"),
    [
        ("password", True),
        ("db_password", True),
        ("clientSecret", True),
        ("apiKey", True),
        ("authToken", True),
        ("privateKey", True),
        ("connectionString", True),
        ("SENTRY_DSN", True),
        ("secretName", False),
        ("kmsKeyId", False),
        ("passwordLength", False),
        ("secretArn", False),
        ("tokenTtl", False),
        ("keyName", False),
        ("description", False),
        ("tags", False),
    ],
)
def test_credential_keys(key: str, credential: bool) -> None:
    assert is_credential_key(key) is credential


PGP_KEY = (
    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBGXabc0BCADhunter2pgpbody\n=x1Yz\n"
    "-----END PGP PRIVATE KEY BLOCK-----"
)


def test_a_pgp_private_key_block_is_redacted_in_values_and_messages() -> None:
    assert redact({"signing": f"key:\n{PGP_KEY}\nend"}) == {"signing": "key:\n[secret]\nend"}
    assert scrub_text(f"bad key {PGP_KEY}") == "bad key [secret]"
    assert scrub_text("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGX cut") == "[secret]"


def test_redact_leaves_plain_values_untouched() -> None:
    value = {"a": [1, 2.5, None, True, "x"], "b": {"c": "plain text"}}
    assert redact(value) == value
    assert scrub_text("nothing to see") == "nothing to see"


# Text around the fixed part of each credential shape, so that the cases near the edges
# of the patterns (lengths, boundaries, missing ``@``) are common, not rare.
_SHAPE_HEADS = [
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    "-----BEGIN PRIVATE KEY-----",
    "AKIA",
    "ASIA",
    "ghp_",
    "ghs_",
    "glpat-",
    "xoxb-",
    "eyJhbGciOiJIUzI1.eyJ",
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIx.",
    "https://user:",
    "postgres://app:",
]
_SHAPE_BODY = ["ABCD1234", "ABCDEFGH", "abcdefgh", "a1b2c3d4e5f6g7h8", "A", "0", "-", "_", "."]
near_credentials = st.builds(
    lambda before, head, body, after: before + head + body + after,
    st.text(alphabet=" x_-.:/@", max_size=2),
    st.sampled_from(_SHAPE_HEADS),
    st.one_of(
        st.text(alphabet="ABZ019", min_size=9, max_size=17),  # AKIA's 16, xox's 10
        st.text(alphabet="abzXYZ019", min_size=19, max_size=31),  # glpat's 20, gh's 30
        st.lists(st.sampled_from(_SHAPE_BODY), max_size=6).map("".join),
    ),
    st.text(alphabet=" x_-.:/@", max_size=2),
)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(near_credentials, st.text(max_size=60)))
# The shortest text each pattern matches, and one character short of it.
@example("-----BEGIN PRIVATE KEY-----")
@example("AKIAABCDEFGHIJKLMNOP")
@example("ASIAABCDEFGHIJKLMNOP")
@example("ASIAABCDEFGHIJKLMNO")
@example("ghp_" + "a" * 30)
@example("glpat-" + "a" * 20)
@example("xoxb-0123456789")
@example("xoxb-012345678")
@example("eyJabcdefgh.eyJabcdefgh.")
@example("s3://u:p@h")
def test_scrub_text_shortcuts_agree_with_the_patterns(text: str) -> None:
    plain = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<2>", text)
    assert scrub_text(text) == _CREDENTIAL_SHAPES.sub(REDACTED, plain)


# -- digest ------------------------------------------------------------------------------


def _steps() -> list[dict]:
    return [
        step(
            "update",
            "aws:s3/bucket:Bucket",
            "logs",
            old={"tags": {"a": "1"}},
            new={"tags": {"a": "2"}},
            detailed={"tags.a": "update"},
        ),
        step(
            "replace",
            "aws:rds/instance:Instance",
            "db",
            old={"engineVersion": "15"},
            new={"engineVersion": "16"},
            replace_reasons=["engineVersion"],
            detailed={"engineVersion": "update-replace"},
        ),
        step("create", "aws:iam/role:Role", "role", new={"name": "r"}),
        step("delete", "aws:sqs/queue:Queue", "old", old={"name": "q"}),
    ]


def _digest(*steps: dict, duration: int = 1) -> str:
    return parse_preview_json(preview_json(*steps, duration=duration)).digest


def test_digest_ignores_duration_order_sames_and_format() -> None:
    steps = _steps()
    base = _digest(*steps)
    assert _digest(*reversed(steps), duration=99_999_999) == base
    same = step("same", "aws:s3/bucket:Bucket", "unchanged", old={"x": 1}, new={"x": 1})
    assert _digest(*steps, same) == base
    assert parse_event_stream(as_events(*steps)).digest == base


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(lambda s: s[0].update(op="replace"), id="op"),
        pytest.param(lambda s: s[0]["newState"]["inputs"]["tags"].update(a="3"), id="new-input"),
        pytest.param(
            lambda s: s[0]["detailedDiff"].update({"tags.b": {"kind": "add"}}), id="changed-path"
        ),
        pytest.param(
            lambda s: s[1].update(replaceReasons=["engineVersion", "storageType"]),
            id="replace-reason",
        ),
        pytest.param(lambda s: s.pop(), id="step-removed"),
        pytest.param(
            lambda s: s.append(step("create", "aws:sqs/queue:Queue", "new", new={})),
            id="step-added",
        ),
    ],
)
def test_digest_changes_when_the_change_does(mutate) -> None:
    steps = _steps()
    base = _digest(*steps)
    mutate(steps)
    assert _digest(*steps) != base


def test_digest_depends_on_the_stack() -> None:
    steps = _steps()
    other = [
        step(
            "update",
            "aws:s3/bucket:Bucket",
            "logs",
            stack="staging",
            old={"tags": {"a": "1"}},
            new={"tags": {"a": "2"}},
            detailed={"tags.a": "update"},
        )
    ]
    assert _digest(steps[0]) != _digest(*other)


# -- properties --------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
preview_keys = st.sampled_from(
    [
        "steps",
        "op",
        "urn",
        "oldState",
        "newState",
        "inputs",
        "detailedDiff",
        "kind",
        "replaceReasons",
        "diffReasons",
        "protect",
        "dependencies",
        "parent",
        "diagnostics",
        "maybeCorrupt",
        "type",
        "custom",
    ]
)
preview_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.just("urn:pulumi:prod::p::aws:s3/bucket:Bucket::b"),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(preview_keys, children, max_size=6)
    ),
    max_leaves=40,
)


def _parses_or_refuses(parse, text: str) -> None:
    """Either a well-formed ChangeSet or the one typed error; anything else fails."""
    try:
        changeset = parse(text, stack="prod")
    except PreviewError as exc:
        assert str(exc)  # noqa: PT017 - any input may be refused, but never silently
        return
    assert len(changeset.digest) == 64
    assert all(change.urn for change in changeset.changes)


@settings(max_examples=200, deadline=None)
@given(st.one_of(json_values, preview_like))
def test_arbitrary_json_never_crashes_the_parsers(document) -> None:
    text = json.dumps(document)
    for parse in (parse_preview_json, parse_event_stream):
        _parses_or_refuses(parse, text)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes_the_parsers(text: str) -> None:
    for parse in (parse_preview_json, parse_event_stream):
        _parses_or_refuses(parse, text)


@settings(max_examples=50, deadline=None)
@given(st.randoms(use_true_random=False))
def test_digest_is_stable_under_any_reordering(rng: random.Random) -> None:
    steps = _steps()
    shuffled = steps[:]
    rng.shuffle(shuffled)
    assert _digest(*shuffled) == _digest(*steps)
