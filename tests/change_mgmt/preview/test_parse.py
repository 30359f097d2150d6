"""Preview ingestion: the real recorded samples, and hand-written previews for each case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from change_mgmt.preview import (
    KNOWN_OPS,
    PreviewError,
    load_preview,
    parse_event_stream,
    parse_preview_json,
)
from tests.change_mgmt.preview.builders import as_events, preview_json, step, urn
from tests.conftest import REPO_ROOT

# Recorded real Pulumi output, kept in the repository (provenance: its INDEX.md).
SAMPLES = REPO_ROOT / "tests" / "data" / "pulumi-previews"

# What each recorded sample holds, read from its INDEX.md description.
EXPECTED = {
    "digests/stratify-preview-creates.json": ("dev", {"create": 16}),
    "digests/stratify-preview-update.json": ("dev", {"same": 15, "update": 1}),
    "digests/stratify-preview-deletes.json": ("dev", {"delete": 14, "same": 2}),
    "digests/driftadopter-aws_tags_and_sets.json": (
        "test-b5f8ac54",
        {"replace": 1, "same": 1, "update": 3},
    ),
    "digests/driftadopter-aws_secret_input.json": ("test-f19184e6", {"same": 1, "update": 3}),
    "digests/pulumi-it2019-golden-create.json": ("%[1]s", {"create": 2}),
    "event-streams/pulumi-display-webserver-userdata.jsonl": ("dev", {"replace": 1, "same": 2}),
    "event-streams/pulumi-display-up-4.jsonl": ("dev", {"same": 5, "update": 1}),
    "event-streams/pulumi-display-up-3.jsonl": ("dev", {"create": 6}),
    "event-streams/pulumi-lifecycle-TestProtect-3.jsonl": ("test", {"delete": 1}),
    "event-streams/pulumi-lifecycle-TestDBRProtect-2.jsonl": ("test", {"replace": 2}),
    "event-streams/pulumi-lifecycle-TestSimpleAnalyzeResourceMultipleViolations.jsonl": (
        "test",
        {},
    ),
    "event-streams/pulumi-lifecycle-TestImportOption-10.jsonl": ("test", {"replace": 1}),
    "event-streams/pulumi-lifecycle-TestReadReplaceStep.jsonl": ("test", {"replace": 1}),
}


def _load(relative: str):
    return load_preview(SAMPLES / relative, "events" if relative.endswith(".jsonl") else "json")


def test_every_recorded_sample_is_listed() -> None:
    on_disk = {
        str(p.relative_to(SAMPLES)) for p in SAMPLES.glob("*/*") if p.suffix in {".json", ".jsonl"}
    }
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_recorded_samples_parse(relative: str) -> None:
    stack, summary = EXPECTED[relative]
    changeset = _load(relative)
    assert changeset.stack == stack
    assert changeset.summary == summary
    assert len(changeset.digest) == 64


def test_replace_trio_in_events_folds_into_one_replace() -> None:
    changeset = _load("event-streams/pulumi-display-webserver-userdata.jsonl")
    (server,) = changeset.actual_changes
    assert server.op == "replace"
    assert server.ops == ("create-replacement", "replace", "delete-replaced")
    assert server.replace_reasons == ("userData",)
    assert server.type == "aws:ec2/instance:Instance"
    assert not server.delete_before_replace


def test_delete_before_replace_is_recognised() -> None:
    changeset = _load("event-streams/pulumi-lifecycle-TestDBRProtect-2.jsonl")
    assert all(change.delete_before_replace for change in changeset.actual_changes)
    assert [c.name for c in changeset.actual_changes if c.protect] == ["resB"]


def test_protected_delete_and_error_diagnostics() -> None:
    changeset = _load("event-streams/pulumi-lifecycle-TestProtect-3.jsonl")
    (resource,) = changeset.changes
    assert (resource.op, resource.protect) == ("delete", True)
    assert {d.severity for d in changeset.diagnostics} == {"error"}
    assert all("<{%" not in d.message for d in changeset.diagnostics)


def test_policy_violations_come_from_events_with_colour_stripped() -> None:
    changeset = _load(
        "event-streams/pulumi-lifecycle-TestSimpleAnalyzeResourceMultipleViolations.jsonl"
    )
    assert len(changeset.policy_violations) == 10
    assert {v.enforcement for v in changeset.policy_violations} >= {"advisory", "mandatory"}
    assert all(v.message == "a policy failed" for v in changeset.policy_violations)
    assert {v.severity for v in changeset.policy_violations} >= {"low", None}


def test_detailed_paths_and_parent_and_dependencies_from_json() -> None:
    changeset = _load("digests/driftadopter-aws_tags_and_sets.json")
    sg = next(c for c in changeset.changes if c.name == "test-sg")
    assert sg.replace_reasons == ("description",)
    assert sg.diff_kinds["description"] == "update-replace"
    assert "ingress[0]" in sg.changed_paths
    assert sg.dependencies and sg.parent and sg.parent.endswith("aws-tags-and-sets-test-b5f8ac54")


def test_same_urn_seen_twice_in_events_is_one_resource() -> None:
    s = step(
        "update", "aws:s3/bucket:Bucket", "b", old={"a": 1}, new={"a": 2}, detailed={"a": "update"}
    )
    text = as_events(s, s)
    (change,) = parse_event_stream(text).changes
    assert change.ops == ("update", "update")


@pytest.mark.parametrize("op", sorted(KNOWN_OPS | {"frobnicate"}))
def test_every_op_parses(op: str) -> None:
    s = step(op, "aws:s3/bucket:Bucket", "b", old={"bucket": "x"}, new={"bucket": "y"})
    (change,) = parse_preview_json(preview_json(s)).changes
    expected = (
        "replace"
        if op
        in {
            "replace",
            "create-replacement",
            "delete-replaced",
            "read-replacement",
            "import-replacement",
            "discard-replaced",
            "remove-pending-replace",
        }
        else op
    )
    assert change.op == expected
    assert change.unknown_ops == (("frobnicate",) if op == "frobnicate" else ())


def test_leading_policy_text_and_trailing_plan_line_are_skipped() -> None:
    body = preview_json(step("create", "aws:s3/bucket:Bucket", "b", new={"bucket": "b"}))
    text = (
        "Loading policy packs...\n<{%fg 1%}>mandatory: x {y}\n"
        + body
        + "\nUpdate plan written to 'plan.json'\n"
    )
    assert parse_preview_json(text).summary == {"create": 1}


def test_integers_beyond_2_pow_53_survive() -> None:
    account = 2**63 + 12345
    text = preview_json(step("create", "aws:iam/role:Role", "r", new={"accountId": account}))
    (change,) = parse_preview_json(text).changes
    assert change.new_inputs == {"accountId": account}


def test_null_detailed_diff_falls_back_to_diff_reasons() -> None:
    s = step("update", "aws:s3/bucket:Bucket", "b", old={}, new={})
    s["diffReasons"] = ["tags"]
    (change,) = parse_preview_json(preview_json(s)).changes
    assert change.changed_paths == ("tags",)


def test_a_preview_without_changes_needs_the_stack_name() -> None:
    text = '{"changeSummary": {"same": 4}, "duration": 1200000}'
    with pytest.raises(PreviewError, match="names no stack"):
        parse_preview_json(text)
    changeset = parse_preview_json(text, stack="prod")
    assert (changeset.stack, changeset.changes) == ("prod", ())
    assert (changeset.failures, changeset.incomplete) == ((), None)


@pytest.mark.parametrize(
    "text",
    [
        '{"steps": []}',
        '{"steps": null, "diagnostics": null}',
        '{"changeSummary": {}, "duration": 5}',
        '{"diagnostics": [{"severity": "warning", "message": "slow provider"}]}',
    ],
)
def test_a_document_that_says_nothing_is_not_a_preview(text: str) -> None:
    with pytest.raises(
        PreviewError, match="not a preview: it has neither steps nor a changeSummary"
    ):
        parse_preview_json(text, stack="prod")


@pytest.mark.parametrize("text", ["{}", '{"name": "x"}', 'note\n{"name": "x"}'])
def test_an_object_with_none_of_the_keys_pulumi_writes_is_not_a_preview(text: str) -> None:
    line = text.count("\n") + 1
    with pytest.raises(PreviewError, match=rf"<preview>:{line}: not a preview: .*none of the keys"):
        parse_preview_json(text, stack="prod")


def test_the_given_stack_name_wins_and_a_mismatch_is_visible() -> None:
    text = preview_json(step("create", "aws:s3/bucket:Bucket", "b", new={}))
    qualified = parse_preview_json(text, stack="acme/sre-platform/prod")
    assert (qualified.stack, qualified.preview_stack, qualified.stack_mismatch) == (
        "acme/sre-platform/prod",
        "prod",
        False,
    )
    other = parse_preview_json(text, stack="staging")
    assert (other.stack, other.preview_stack, other.stack_mismatch) == ("staging", "prod", True)
    assert other.digest != parse_preview_json(text).digest


def test_steps_of_two_stacks_are_refused() -> None:
    text = preview_json(
        step("create", "aws:s3/bucket:Bucket", "a", new={}),
        step("create", "aws:s3/bucket:Bucket", "b", new={}, stack="staging"),
    )
    with pytest.raises(PreviewError, match="more than one stack"):
        parse_preview_json(text)


def test_step_without_urn_anywhere_is_malformed() -> None:
    with pytest.raises(PreviewError, match=r"steps\[0\]: a step without a URN"):
        parse_preview_json('{"steps": [{"op": "create"}]}')


def test_urn_may_come_from_the_state() -> None:
    u = urn("prod", "aws:s3/bucket:Bucket", "b")
    text = json.dumps(
        {"steps": [{"op": "create", "newState": {"urn": u, "type": "aws:s3/bucket:Bucket"}}]}
    )
    assert parse_preview_json(text).changes[0].urn == u


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no JSON object found"),
        ("Error: no stack selected\n", "no JSON object found"),
        ('{"steps": [', r"<preview>:1: not valid JSON"),
        ('[{"op": "create"}]', "no JSON object found"),
        ('{"steps": {}}', r"steps: expected a list, got an object"),
        ('{"steps": [3]}', r"steps\[0\]: expected an object, got a number"),
        ('{"steps": [{"op": 3, "urn": "u"}]}', r"steps\[0\]\.op: expected a string, got a number"),
        (
            '{"steps": [{"op": "update", "urn": "u", "detailedDiff": {"a": 1}}]}',
            r"detailedDiff\['a'\]: expected an object",
        ),
        (
            '{"steps": [{"op": "update", "urn": "u", "replaceReasons": [1]}]}',
            r"replaceReasons\[0\]: expected a string",
        ),
        (
            '{"steps": [{"op": "update", "urn": "u", "newState": {"protect": "yes"}}]}',
            r"protect: expected a boolean",
        ),
        ('{"maybeCorrupt": "no"}', r"maybeCorrupt: expected a boolean"),
        ('{"diagnostics": ["x"]}', r"diagnostics\[0\]: expected an object"),
        pytest.param('{"a":' * 100_000, "nested too deeply", id="deep-nesting"),
    ],
)
def test_malformed_json_raises_one_typed_error(text: str, message: str) -> None:
    with pytest.raises(PreviewError, match=message):
        parse_preview_json(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"sequence": 1}\nnot json\n', r"<events>:2: not a JSON event"),
        ("[1]\n", r"<events>:1: expected an event object, got a list"),
        (
            '{"resourcePreEvent": {"metadata": 4}}\n',
            r"resourcePreEvent.metadata: expected an object",
        ),
        ('{"policyEvent": {"policyName": 1}}\n', r"policyEvent.policyName: expected a string"),
        ('{"resourcePreEvent": []}\n', r"resourcePreEvent: expected an object, got a list"),
    ],
)
def test_malformed_events_name_the_line(text: str, message: str) -> None:
    with pytest.raises(PreviewError, match=message):
        parse_event_stream(text, stack="prod")


def test_unknown_event_kinds_are_ignored() -> None:
    text = '{"sequence": 3, "someFutureEvent": {"x": 1}}\n\n{"cancelEvent": {}}\n'
    assert parse_event_stream(text, stack="prod").changes == ()


def test_files_that_are_not_text_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "p.json"
    binary.write_bytes(b"{\0}")
    with pytest.raises(PreviewError, match="binary data"):
        load_preview(binary, "json")
    latin = tmp_path / "q.json"
    latin.write_bytes(b'{"steps": [], "x": "\xe9"}')
    with pytest.raises(PreviewError, match="not UTF-8"):
        load_preview(latin, "json")
    with pytest.raises(PreviewError, match="cannot read"):
        load_preview(tmp_path / "missing.json", "json")


def test_a_truncated_preview_is_an_error_not_an_empty_change() -> None:
    text = preview_json(
        *(step("delete", "aws:s3/bucket:Bucket", f"b{i}", old={"x": i}) for i in range(20))
    )
    with pytest.raises(PreviewError, match="not valid JSON"):
        parse_preview_json(text[:-300], stack="prod")


def test_text_before_the_document_may_start_with_a_brace() -> None:
    body = preview_json(step("create", "aws:s3/bucket:Bucket", "b", new={}))
    text = "{%fg 1%} policy pack loaded\n" + body
    assert parse_preview_json(text).summary == {"create": 1}


def test_lone_surrogates_do_not_break_the_digest() -> None:
    text = preview_json(step("create", "aws:s3/bucket:Bucket", "b", new={"tag": "x"})).replace(
        '"x"', '"\\ud800"'
    )
    assert len(parse_preview_json(text).digest) == 64


# -- previews that cannot say what changes -----------------------------------------------


def test_error_diagnostics_make_a_failed_preview_even_without_steps() -> None:
    text = '{"diagnostics": [{"severity": "error", "message": "preview failed: AccessDenied"}]}'
    changeset = parse_preview_json(text, stack="prod")
    assert changeset.failures == ("preview failed: AccessDenied",)
    assert changeset.changes == ()


def test_a_change_summary_counting_more_than_the_steps_is_incomplete() -> None:
    text = json.dumps(
        {
            "steps": [step("update", "aws:s3/bucket:Bucket", "b", old={}, new={})],
            "changeSummary": {"update": 1, "delete": 3, "same": 9},
        }
    )
    changeset = parse_preview_json(text)
    assert changeset.incomplete == "its summary counts 4 change(s) but its steps carry 1"


def test_summary_counts_that_are_not_counts_are_malformed() -> None:
    with pytest.raises(PreviewError, match=r"changeSummary\['delete'\]: expected a count"):
        parse_preview_json('{"changeSummary": {"delete": "3"}}', stack="prod")


def test_an_event_log_without_its_summary_is_incomplete() -> None:
    s = step("delete", "aws:s3/bucket:Bucket", "b", old={})
    complete = parse_event_stream(as_events(s, resource_changes={"delete": 1}))
    assert (complete.incomplete, complete.failures) == (None, ())
    cut = parse_event_stream(as_events(s, summary=False))
    assert cut.incomplete is not None and "without the engine's summaryEvent" in cut.incomplete
    cancelled_only = parse_event_stream('{"sequence": 1, "cancelEvent": {}}\n', stack="prod")
    assert cancelled_only.incomplete is not None


def test_an_event_summary_counting_more_changes_than_the_events_is_incomplete() -> None:
    s = step("update", "aws:s3/bucket:Bucket", "b", old={}, new={})
    changeset = parse_event_stream(as_events(s, resource_changes={"update": 1, "delete": 2}))
    assert changeset.incomplete == "its summary counts 3 change(s) but its steps carry 1"


def test_a_failed_result_in_the_summary_is_a_failed_preview() -> None:
    s = step("update", "aws:s3/bucket:Bucket", "b", old={}, new={})
    changeset = parse_event_stream(as_events(s, result="failed"))
    assert changeset.failures == ("the engine's summary says: failed",)


# -- the wrong format for the flag -------------------------------------------------------


def test_an_event_log_given_as_a_json_preview_is_named() -> None:
    text = as_events(step("create", "aws:s3/bucket:Bucket", "b", new={}))
    with pytest.raises(
        PreviewError, match=r"<preview>:1: an engine event.*pass an event log with --events"
    ):
        parse_preview_json(text, stack="prod")


@pytest.mark.parametrize("indent", [None, 4])
def test_a_json_preview_given_as_an_event_log_is_named(indent: int | None) -> None:
    document = json.loads(preview_json(step("create", "aws:s3/bucket:Bucket", "b", new={})))
    text = json.dumps(document, indent=indent)
    with pytest.raises(PreviewError, match=r"`pulumi preview --json`.*pass it with --preview"):
        parse_event_stream(text, stack="prod")


def test_an_object_that_is_no_event_is_refused_in_an_event_log() -> None:
    with pytest.raises(PreviewError, match=r"<events>:1: not an engine event"):
        parse_event_stream("{}\n", stack="prod")


# -- JSON that readers disagree on, or that no preview holds -----------------------------


def _with_duplicate_op() -> tuple[str, int]:
    """A preview whose one step says ``op`` twice, and the line its object starts on."""
    text = preview_json(step("update", "aws:s3/bucket:Bucket", "b", old={}, new={}))
    text = text.replace('"op": "update",', '"op": "update", "op": "same",')
    return text, text[: text.index('"op": "update"')].count("\n")


def test_a_key_twice_in_one_object_is_corrupt_in_either_format() -> None:
    text, line = _with_duplicate_op()
    with pytest.raises(PreviewError, match=rf"<preview>:{line}: key 'op' twice in one object"):
        parse_preview_json(text)
    events = '{"sequence": 1, "sequence": 2, "cancelEvent": {}}\n'
    with pytest.raises(PreviewError, match=r"<events>:1: key 'sequence' twice"):
        parse_event_stream(events, stack="prod")


@pytest.mark.parametrize("separator", ["", "\n", "\n\nUpdate plan written\n"])
def test_two_concatenated_documents_are_corrupt(separator: str) -> None:
    first = preview_json(step("delete", "aws:s3/bucket:Bucket", "b", old={}))
    second = preview_json(step("create", "aws:s3/bucket:Bucket", "c", new={}))
    text = first + separator + second
    line = (first + separator).count("\n") + 1
    with pytest.raises(PreviewError, match=rf"<preview>:{line}: a second JSON document follows"):
        parse_preview_json(text)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_numbers_are_refused_in_either_format(literal: str) -> None:
    inputs = {"weight": 1}
    text = preview_json(step("create", "aws:s3/bucket:Bucket", "b", new=inputs))
    with pytest.raises(PreviewError, match=rf"{literal} is not a JSON number"):
        parse_preview_json(text.replace('"weight": 1', f'"weight": {literal}'))
    events = as_events(step("create", "aws:s3/bucket:Bucket", "b", new=inputs))
    with pytest.raises(PreviewError, match=rf"<events>:2: {literal} is not a JSON number"):
        parse_event_stream(events.replace('"weight": 1', f'"weight": {literal}'))


def test_a_number_of_more_than_4300_digits_is_refused_in_either_format() -> None:
    huge = "9" * 5000
    text = preview_json(step("create", "aws:s3/bucket:Bucket", "b", new={"n": 1}))
    line = text[: text.index('"n": 1')].count("\n")  # the line of the inputs object
    with pytest.raises(PreviewError, match=rf"<preview>:{line}: a number of 5000 digits"):
        parse_preview_json(text.replace('"n": 1', f'"n": {huge}'))
    events = as_events(step("create", "aws:s3/bucket:Bucket", "b", new={"n": 1}))
    with pytest.raises(PreviewError, match=r"<events>:2: a number of 5000 digits"):
        parse_event_stream(events.replace('"n": 1', f'"n": -{huge}'))
    just_fits = int("9" * 4300)
    created = step("create", "aws:s3/bucket:Bucket", "b", new={"n": just_fits})
    (change,) = parse_preview_json(preview_json(created)).changes
    assert change.new_inputs == {"n": just_fits}


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [500, 101])
def test_inputs_nested_too_deeply_are_refused_in_either_format(depth: int) -> None:
    deep = step("create", "aws:s3/bucket:Bucket", "b", new={"x": _nested(depth)})
    with pytest.raises(PreviewError, match=r"<events>:2: resourcePreEvent.metadata: inputs of"):
        parse_event_stream(as_events(deep))
    with pytest.raises(PreviewError, match=r"steps\[0\]: inputs of the new state: nested more"):
        parse_preview_json(preview_json(deep))


def test_inputs_nested_as_deep_as_allowed_parse() -> None:
    deep = step("create", "aws:s3/bucket:Bucket", "b", new={"x": _nested(99)})
    (change,) = parse_event_stream(as_events(deep)).changes
    assert change.new_inputs == {"x": _nested(99)}
