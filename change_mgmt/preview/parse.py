"""Parse both machine formats of a Pulumi preview into one redacted :class:`ChangeSet`.

* ``pulumi preview --json``: one JSON object (``steps``, ``diagnostics``,
  ``changeSummary``, ...). Policy packs may print text before it and ``--save-plan``
  a line after it. States are ``oldState``/``newState``; reasons ``replaceReasons`` and
  ``diffReasons``; ``detailedDiff.<path>.kind``.
* Engine event streams: one JSON object per line (``pulumi preview --event-log FILE``,
  Automation API ``on_event``). Steps come from ``resourcePreEvent.metadata`` with
  ``old``/``new``, ``keys``, ``diffs`` and ``detailedDiff.<path>.diffKind``; policy
  violations from ``policyEvent``.

Every key may be absent. A key with the wrong type is malformed input and raises
:class:`PreviewError` naming where it is; nothing else escapes. So is JSON that decoders
disagree on (a key twice in one object, two documents, ``NaN``) and input no preview
holds (numbers of thousands of digits, values nested deeper than any resource's).

A preview that cannot say what would change is never "no changes": a document that is
not a preview is an error; a failed one (error diagnostics, a failed result) or an
incomplete one (no ``summaryEvent``, a summary counting more changes than the steps
carry) is a ChangeSet that says so (``failure``, ``incomplete``), and the gate closes.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import json.decoder
import json.scanner
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from change_mgmt.errors import SreError
from change_mgmt.preview.digest import change_digest
from change_mgmt.preview.model import (
    REPLACEMENT_PARTS,
    ChangeSet,
    Diagnostic,
    PolicyViolation,
    ResourceChange,
)
from change_mgmt.preview.redact import NestedTooDeeply, redact, scrub_text

JSON_SOURCE = "pulumi preview --json"
EVENTS_SOURCE = "engine events"

_COLOUR_DIRECTIVE = re.compile(r"<\{%[^%]*%\}>")


class PreviewError(SreError):
    """The preview could not be read: not JSON, not a preview, or a malformed field."""


# -- strict JSON -------------------------------------------------------------------------

# Python refuses to convert longer integer literals (its int-string limit); no preview
# value comes near it.
MAX_NUMBER_DIGITS = 4300

# Every key `pulumi preview --json` writes (Pulumi's PreviewDigest).
DIGEST_KEYS = frozenset(
    {"config", "steps", "diagnostics", "duration", "changeSummary", "maybeCorrupt"}
)


class _Refused(ValueError):
    """JSON that decodes, but that a preview never holds or that decoders disagree on."""


def _integer(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number of {digits} digits; no preview value has more than 4300")
    return int(literal)


def _real(literal: str) -> float:
    if len(literal) > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number of {len(literal)} characters; no preview value is so long")
    return float(literal)


def _constant(literal: str) -> Any:
    raise _Refused(f"{literal} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(
                    f"key {key!r} twice in one object: the preview is corrupt (which one "
                    "counts depends on the reader)"
                )
            seen.add(key)
    return document


def _strict_decoder() -> json.JSONDecoder:
    return json.JSONDecoder(
        parse_int=_integer, parse_float=_real, parse_constant=_constant, object_pairs_hook=_object
    )


_DECODER = _strict_decoder()


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _refused_at(text: str, start: int) -> int:
    """Where the innermost object holding a refused value starts.

    The fast decoder cannot say where its hooks refused something; the pure-Python
    scanner can, and runs only then.
    """
    found: list[int] = []
    parse_object = json.decoder.JSONObject  # type: ignore[attr-defined]

    def located(s_and_end: tuple[str, int], *args: Any) -> Any:
        try:
            return parse_object(s_and_end, *args)
        except _Refused:
            if not found:
                found.append(s_and_end[1] - 1)
            raise

    decoder = _strict_decoder()
    decoder.parse_object = located  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    with contextlib.suppress(_Refused, RecursionError, json.JSONDecodeError):
        decoder.raw_decode(text, start)
    return found[0] if found else start


def _line_starts_with_brace(text: str, position: int = 0) -> Iterator[int]:
    """Every offset from ``position`` on where a line starts with ``{``, lazily.

    Pulumi prints the document's opening brace at the start of a line; nested objects of
    its pretty-printed JSON are indented, so they are never taken for the document. Lazy,
    and with ``str.find``: a scan of the whole text (a regex over tens of megabytes)
    would cost more than decoding it.
    """
    if text.startswith("{", position) and (position == 0 or text[position - 1] == "\n"):
        yield position
    found = text.find("\n{", position)
    while found != -1:
        yield found + 1
        found = text.find("\n{", found + 1)


def _is_event(obj: Mapping[str, Any]) -> bool:
    """Engine events carry a sequence number, a timestamp or one ``…Event`` payload."""
    return "sequence" in obj or "timestamp" in obj or any(k.endswith("Event") for k in obj)


# -- typed access ------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _typed(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]`` if present and of ``kind``; ``None`` if absent or null."""
    value = obj.get(key)
    if value is None or type(value) is kind:  # the usual case, decided at once
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = _describe(kind() if isinstance(kind, type) else kind[0]())
        raise PreviewError(f"{where}.{key}: expected {expected}, got {_describe(value)}")
    return value


def _strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _typed(obj, key, list, where) or []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise PreviewError(f"{where}.{key}[{index}]: expected a string, got {_describe(item)}")
    return tuple(items)


def _counts(obj: Mapping[str, Any], key: str, where: str) -> dict[str, int] | None:
    """A summary of resources per op (``changeSummary``, ``resourceChanges``)."""
    counts = _typed(obj, key, dict, where)
    if counts is None:
        return None
    for op, count in counts.items():
        if type(count) is not int or count < 0:
            raise PreviewError(f"{where}.{key}[{op!r}]: expected a count, got {_describe(count)}")
    return counts  # type: ignore[no-any-return]


def _uncounted(counts: Mapping[str, int] | None, changes: Iterable[ResourceChange]) -> str | None:
    """Why the steps are fewer than the summary says, if they are."""
    claimed = sum(count for op, count in (counts or {}).items() if op != "same")
    carried = sum(1 for change in changes if change.is_change)
    if claimed <= carried:
        return None
    return f"its summary counts {claimed} change(s) but its steps carry {carried}"


def clean_message(text: str) -> str:
    """Message text without colour directives or credential-shaped substrings."""
    return scrub_text(_COLOUR_DIRECTIVE.sub("", text)).strip()


# -- steps -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Step:
    """One raw step in the vocabulary shared by both formats."""

    op: str
    urn: str
    provider: str | None
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None
    replace_reasons: tuple[str, ...]
    diff_reasons: tuple[str, ...]
    diff_kinds: dict[str, str]
    type: str | None
    where: str  # where the step is, for errors about its resource


def _state(step: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any] | None:
    return _typed(step, key, dict, where)  # type: ignore[no-any-return]


def _detailed_diff(step: Mapping[str, Any], kind_key: str, where: str) -> dict[str, str]:
    detailed = _typed(step, "detailedDiff", dict, where) or {}
    kinds: dict[str, str] = {}
    for path, diff in detailed.items():
        if not isinstance(diff, dict):
            raise PreviewError(
                f"{where}.detailedDiff[{path!r}]: expected an object, got {_describe(diff)}"
            )
        kind = _typed(diff, kind_key, str, f"{where}.detailedDiff[{path!r}]")
        kinds[path] = kind or "update"
    return kinds


def _urn_of(step: Mapping[str, Any], states: Iterable[Mapping[str, Any] | None], where: str) -> str:
    urn = _typed(step, "urn", str, where)
    for state in states:
        if urn:
            break
        if state is not None:
            urn = _typed(state, "urn", str, where)
    if not urn:
        raise PreviewError(f"{where}: a step without a URN")
    return str(urn)


@dataclass(frozen=True, slots=True)
class _StepKeys:
    """The key names of one step in one format: the two formats say the same things with
    different words."""

    old: str
    new: str
    replace_reasons: str
    diff_reasons: str
    diff_kind: str
    type: str | None


_JSON_KEYS = _StepKeys("oldState", "newState", "replaceReasons", "diffReasons", "kind", None)
_EVENT_KEYS = _StepKeys("old", "new", "keys", "diffs", "diffKind", "type")


def _step(raw: Any, keys: _StepKeys, where: str) -> _Step:
    if not isinstance(raw, dict):
        raise PreviewError(f"{where}: expected an object, got {_describe(raw)}")
    old = _state(raw, keys.old, where)
    new = _state(raw, keys.new, where)
    return _Step(
        op=_typed(raw, "op", str, where) or "",
        urn=_urn_of(raw, (new, old), where),
        provider=_typed(raw, "provider", str, where),
        old=old,
        new=new,
        replace_reasons=_strings(raw, keys.replace_reasons, where),
        diff_reasons=_strings(raw, keys.diff_reasons, where),
        diff_kinds=_detailed_diff(raw, keys.diff_kind, where),
        type=_typed(raw, keys.type, str, where) if keys.type else None,
        where=where,
    )


def _urn_parts(urn: str) -> tuple[str | None, str | None, str, str]:
    """(stack, project, type, name) of ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    parts = urn.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        return None, None, "", urn
    qualified_type = parts[2]
    return (
        parts[0].removeprefix("urn:pulumi:"),
        parts[1],
        qualified_type.rsplit("$", 1)[-1],
        "::".join(parts[3:]),
    )


def _text_or_none(state: Mapping[str, Any] | None, key: str, where: str) -> str | None:
    if state is None:
        return None
    return _typed(state, key, str, where) or None


_REPLACEMENT_OPS = REPLACEMENT_PARTS | {"replace"}


def _fold(
    urn: str, urn_parts: tuple[str | None, str | None, str, str], steps: list[_Step], where: str
) -> ResourceChange:
    """Every step of one URN, in arrival order, folded into one change."""
    ops: list[str] = []
    old: Mapping[str, Any] | None = None
    new: Mapping[str, Any] | None = None
    step_type: str | None = None
    step_provider: str | None = None
    diff_kinds: dict[str, str] = {}
    reasons: list[str] = []
    diffs: list[str] = []
    old_where = new_where = where
    for step in steps:  # the first old state, the last new state, the first type/provider
        ops.append(step.op or "<missing op>")
        if old is None and step.old is not None:
            old, old_where = step.old, step.where
        if step.new is not None:
            new, new_where = step.new, step.where
        step_type = step_type or step.type
        step_provider = step_provider or step.provider
        diff_kinds.update(step.diff_kinds)
        reasons.extend(step.replace_reasons)
        diffs.extend(step.diff_reasons)
    replaced = not _REPLACEMENT_OPS.isdisjoint(ops)
    op = "replace" if replaced and _REPLACEMENT_OPS.issuperset(ops) else ops[0]
    _, _, urn_type, name = urn_parts
    state_type = _text_or_none(new, "type", where) or _text_or_none(old, "type", where)
    protect = any(
        bool(_typed(state, "protect", bool, where)) for state in (old, new) if state is not None
    )
    custom_flags = [
        _typed(state, "custom", bool, where) for state in (new, old) if state is not None
    ]
    changed = diff_kinds.keys() or diffs
    dependencies: list[str] = []
    for state in (new, old):
        if state is not None:
            dependencies.extend(_strings(state, "dependencies", where))
    old_inputs = _typed(old, "inputs", dict, where) if old is not None else None
    new_inputs = _typed(new, "inputs", dict, where) if new is not None else None
    return ResourceChange(
        urn=urn,
        type=state_type or step_type or urn_type,
        name=name,
        op=op,
        ops=tuple(ops),
        parent=_text_or_none(new, "parent", where) or _text_or_none(old, "parent", where),
        provider=step_provider
        or _text_or_none(new, "provider", where)
        or _text_or_none(old, "provider", where),
        protect=protect,
        custom=next((flag for flag in custom_flags if flag is not None), True),
        replace_reasons=tuple(dict.fromkeys(reasons)),
        changed_paths=tuple(dict.fromkeys(changed)),
        diff_kinds=diff_kinds,
        old_inputs=_redacted(old_inputs, old_where, "old"),
        new_inputs=_redacted(new_inputs, new_where, "new"),
        dependencies=tuple(dict.fromkeys(dependencies)),
        delete_before_replace=replaced and ops[0] == "delete-replaced",
    )


def _redacted(inputs: Mapping[str, Any] | None, where: str, state: str) -> Any:
    if inputs is None:
        return None
    try:
        return redact(inputs)
    except NestedTooDeeply as exc:
        raise PreviewError(f"{where}: inputs of the {state} state: {exc}") from None


def _build(
    steps: Iterable[_Step],
    *,
    source: str,
    stack: str | None,
    violations: tuple[PolicyViolation, ...] = (),
    diagnostics: tuple[Diagnostic, ...] = (),
    maybe_corrupt: bool = False,
    source_name: str,
    counts: Mapping[str, int] | None = None,
    failure: str | None = None,
    incomplete: str | None = None,
) -> ChangeSet:
    by_urn: dict[str, list[_Step]] = {}
    for step in steps:
        if step.urn in by_urn:
            by_urn[step.urn].append(step)
        else:
            by_urn[step.urn] = [step]
    urn_parts = {urn: _urn_parts(urn) for urn in by_urn}
    changes = tuple(
        _fold(urn, urn_parts[urn], urn_steps, urn_steps[0].where)
        for urn, urn_steps in by_urn.items()
    )
    parts = [*urn_parts.values(), *(_urn_parts(v.urn) for v in violations if v.urn)]
    stacks = {stack for stack, _, _, _ in parts if stack is not None}
    projects = {project for _, project, _, _ in parts if project is not None}
    if len(stacks) > 1:
        raise PreviewError(f"{source_name}: steps of more than one stack: {sorted(stacks)}")
    found = next(iter(stacks), None)
    name = stack or found
    if not name:
        raise PreviewError(f"{source_name}: the preview names no stack; pass the stack name")
    return ChangeSet(
        stack=name,
        preview_stack=found,
        project=next(iter(projects), None) if len(projects) == 1 else None,
        source=source,
        changes=changes,
        digest=change_digest(name, changes),
        policy_violations=violations,
        diagnostics=diagnostics,
        maybe_corrupt=maybe_corrupt,
        failure=failure,
        incomplete=incomplete or _uncounted(counts, changes),
    )


def unknown_change(stack: str, *, source_name: str) -> ChangeSet:
    """The change of a preview that printed nothing readable: no step of it is known.

    Only for a preview that failed: the caller says so (``failure``), and the gate closes.
    """
    return _build((), source=JSON_SOURCE, stack=stack, source_name=source_name)


# -- pulumi preview --json ---------------------------------------------------------------


def _decode_document(text: str, source_name: str) -> dict[str, Any]:
    """The preview object in ``text``, skipping text printed before and after it.

    The document starts on a line of its own; policy packs may print other lines before
    it, some of which may start with ``{``, so the first object with a preview key wins.
    A document that does not decode (a truncated preview) is an error, never replaced by
    some smaller object found elsewhere in the text; so is a second document after it,
    an engine event, or an object with none of the keys Pulumi writes.
    """
    stripped = len(text) - len(text.lstrip())
    # The first non-blank character may start the document on any line of its own.
    starts = itertools.chain(
        [stripped] if text.startswith("{", stripped) else [],
        (start for start in _line_starts_with_brace(text) if start != stripped),
    )
    first: int | None = None
    error: json.JSONDecodeError | None = None
    for start in starts:
        try:
            document, end = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            error = error or exc
            continue
        except _Refused as refused:
            at = _line(text, _refused_at(text, start))
            raise PreviewError(f"{source_name}:{at}: {refused}") from None
        except RecursionError:
            raise PreviewError(f"{source_name}: JSON nested too deeply") from None
        if not isinstance(document, dict):
            continue
        if _is_event(document):
            raise PreviewError(
                f"{source_name}:{_line(text, start)}: an engine event, not the output of "
                "`pulumi preview --json`; pass an event log with --events"
            )
        if DIGEST_KEYS & document.keys():
            _refuse_a_second_document(text, end, source_name)
            return document
        first = start if first is None else first
    if error is not None:
        raise PreviewError(
            f"{source_name}:{_line(text, error.pos)}: not valid JSON: {error.msg}"
        ) from None
    if first is not None:
        raise PreviewError(
            f"{source_name}:{_line(text, first)}: not a preview: the object has none of "
            f"the keys `pulumi preview --json` writes ({', '.join(sorted(DIGEST_KEYS))})"
        )
    raise PreviewError(
        f"{source_name}: no JSON object found; expected the output of `pulumi preview --json`"
    )


def _refuse_a_second_document(text: str, end: int, source_name: str) -> None:
    """Text may follow the preview (``Update plan written…``); another document may not."""
    rest = text[end:]
    following = rest.lstrip()
    if following[:1] in ("{", "["):
        second: int | None = end + len(rest) - len(following)
    else:
        second = next(_line_starts_with_brace(text, end), None)
    if second is not None:
        raise PreviewError(
            f"{source_name}:{_line(text, second)}: a second JSON document follows the "
            "preview; `pulumi preview --json` writes one, so this output is corrupt"
        )


def parse_preview_json(
    text: str, *, source_name: str = "<preview>", stack: str | None = None
) -> ChangeSet:
    """Parse ``pulumi preview --json`` output (text around the document is ignored)."""
    document = _decode_document(text, source_name)
    where = source_name
    raw_steps = _typed(document, "steps", list, where) or []
    steps = [
        _step(raw_step, _JSON_KEYS, f"{where}: steps[{index}]")
        for index, raw_step in enumerate(raw_steps)
    ]
    diagnostics = []
    for index, raw in enumerate(_typed(document, "diagnostics", list, where) or []):
        at = f"{where}: diagnostics[{index}]"
        if not isinstance(raw, dict):
            raise PreviewError(f"{at}: expected an object, got {_describe(raw)}")
        diagnostics.append(_diagnostic(raw, at))
    counts = _counts(document, "changeSummary", where)
    maybe_corrupt = bool(_typed(document, "maybeCorrupt", bool, where))
    failed = any(diagnostic.severity == "error" for diagnostic in diagnostics)
    if not raw_steps and not counts and not failed:
        raise PreviewError(
            f"{where}: not a preview: it has neither steps nor a changeSummary, and a "
            "preview of a stack always has one (Pulumi leaves out only empty fields)"
        )
    return _build(
        steps,
        source=JSON_SOURCE,
        stack=stack,
        diagnostics=tuple(diagnostics),
        maybe_corrupt=maybe_corrupt,
        source_name=source_name,
        counts=counts,
    )


def _diagnostic(raw: Mapping[str, Any], where: str) -> Diagnostic:
    return Diagnostic(
        severity=_typed(raw, "severity", str, where) or "info",
        message=clean_message(_typed(raw, "message", str, where) or ""),
        urn=_typed(raw, "urn", str, where) or None,
    )


# -- engine event streams ----------------------------------------------------------------


def _policy_violation(raw: Mapping[str, Any], where: str) -> PolicyViolation:
    return PolicyViolation(
        policy=_typed(raw, "policyName", str, where) or "",
        pack=_typed(raw, "policyPackName", str, where) or "",
        enforcement=_typed(raw, "enforcementLevel", str, where) or "advisory",
        message=clean_message(_typed(raw, "message", str, where) or ""),
        urn=_typed(raw, "resourceUrn", str, where) or None,
        severity=_typed(raw, "severity", str, where) or None,
    )


def parse_events(
    events: Iterable[tuple[Any, str]], *, source_name: str = "<events>", stack: str | None = None
) -> ChangeSet:
    """Parse decoded engine events, each given with where it came from (for errors)."""
    steps: list[_Step] = []
    violations: list[PolicyViolation] = []
    diagnostics: list[Diagnostic] = []
    maybe_corrupt = False
    summarised = False
    result: str | None = None
    counts: dict[str, int] | None = None
    for event, where in events:
        if not isinstance(event, dict):
            raise PreviewError(f"{where}: expected an event object, got {_describe(event)}")
        if not _is_event(event):
            raise PreviewError(f"{where}: {_not_an_event(event)}")
        if (pre := _typed(event, "resourcePreEvent", dict, where)) is not None:
            at = f"{where}: resourcePreEvent.metadata"
            steps.append(_step(pre.get("metadata"), _EVENT_KEYS, at))
        elif (policy := _typed(event, "policyEvent", dict, where)) is not None:
            violations.append(_policy_violation(policy, f"{where}: policyEvent"))
        elif (diag := _typed(event, "diagnosticEvent", dict, where)) is not None:
            diagnostics.append(_diagnostic(diag, f"{where}: diagnosticEvent"))
        elif (summary := _typed(event, "summaryEvent", dict, where)) is not None:
            at = f"{where}: summaryEvent"
            summarised = True
            maybe_corrupt = bool(_typed(summary, "maybeCorrupt", bool, at))
            result = _typed(summary, "result", str, at)
            counts = _counts(summary, "resourceChanges", at)
    return _build(
        steps,
        source=EVENTS_SOURCE,
        stack=stack,
        violations=tuple(violations),
        diagnostics=tuple(diagnostics),
        maybe_corrupt=maybe_corrupt,
        source_name=source_name,
        counts=counts,
        failure=f"the engine's summary says: {result}"
        if result not in (None, "succeeded")
        else None,
        incomplete=None
        if summarised
        else "the event log ends without the engine's summaryEvent (cut short, or the "
        "preview never finished)",
    )


def _not_an_event(obj: Mapping[str, Any]) -> str:
    if DIGEST_KEYS & obj.keys():
        return "the output of `pulumi preview --json`, not an engine event; pass it with --preview"
    return "not an engine event (it has no sequence, timestamp or …Event payload)"


def _decoded_lines(text: str, source_name: str) -> Iterable[tuple[Any, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source_name}:{number}"
        try:
            yield _DECODER.decode(line), where
        except json.JSONDecodeError as exc:
            raise PreviewError(f"{where}: not a JSON event: {exc.msg}") from None
        except _Refused as refused:
            raise PreviewError(f"{where}: {refused}") from None
        except RecursionError:
            raise PreviewError(f"{where}: JSON nested too deeply") from None


def parse_event_stream(
    text: str, *, source_name: str = "<events>", stack: str | None = None
) -> ChangeSet:
    """Parse an engine event log: one JSON object per line."""
    try:
        return parse_events(_decoded_lines(text, source_name), source_name=source_name, stack=stack)
    except PreviewError:
        if _is_preview_document(text):
            raise PreviewError(
                f"{source_name}: the output of `pulumi preview --json` (one JSON document), "
                "not an engine event log; pass it with --preview"
            ) from None
        raise


def _is_preview_document(text: str) -> bool:
    try:
        _decode_document(text, "")
    except PreviewError:
        return False
    return True
