"""Run a Pulumi program under ``pulumi.runtime.set_mocks`` and capture what it declares.

No Pulumi CLI or provider plugin is needed: the SDK's mock monitor stands in for the
engine. This is what ``sre env render`` shows and what every component, stack and policy
test asserts on. Each run gets a fresh ``contextvars`` context (so a fresh root stack,
settings and config) and a fresh event loop, so runs never leak into each other.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.rpc import is_rpc_secret, unwrap_rpc_secret
from pulumi.runtime.stack import run_pulumi_func

from policies import model as policy_model

STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class SecretValue:
    """An input the program marked secret; ``str()`` never shows the value."""

    value: Any

    def __repr__(self) -> str:
        return "SecretValue([secret])"

    __str__ = __repr__


# An input not known at preview time (an output of a resource not yet created): the
# policy model's marker, so the rules read mock runs as they read the engine's props.
UNKNOWN = policy_model.UNKNOWN


@dataclass(frozen=True)
class DeclaredResource:
    """One resource registration as the engine would receive it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    protect: bool = False
    provider: str = ""
    additional_secret_outputs: tuple[str, ...] = ()
    # A ``Resource.get`` of something that exists (``read_id`` is its ID), not a declaration.
    is_read: bool = False
    read_id: str = ""
    # input name -> URNs of the resources its value came from (what stack policies see)
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Every resource it waits for: the explicit ``depends_on`` and those of its inputs.
    dependencies: tuple[str, ...] = ()

    @property
    def parent_name(self) -> str:
        """The logical name of the parent (last URN segment), or ``""`` at top level."""
        return self.parent.rsplit("::", 1)[-1] if self.parent else ""


@dataclass
class MockRun:
    """Everything one program run declared, in registration order."""

    project: str
    stack: str
    resources: list[DeclaredResource] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[DeclaredResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> DeclaredResource:
        """The single resource of this type (and name): fails loudly when not exactly one."""
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise LookupError(f"expected one {type_token} named {name!r}, found {names}")
        return found[0]

    def children_of(self, urn: str) -> list[DeclaredResource]:
        return [r for r in self.resources if r.parent == urn]


OutputsFor = Callable[[str, str, Mapping[str, Any]], dict[str, Any]]


def plausible_outputs(type_token: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs a provider would return, so programs that read them keep working.

    Inputs echo back (providers return their inputs as outputs); AWS resources get an
    ARN; the few outputs our components read get a recognisable fake value.
    """
    outputs = dict(inputs)
    if type_token.startswith("aws:"):
        outputs.setdefault("arn", f"arn:aws:mock:us-east-1:000000000000:{name}")
    if type_token == "aws:rds/instance:Instance":
        address = f"{name}.mock.us-east-1.rds.amazonaws.com"
        outputs.update(address=address, endpoint=f"{address}:5432", port=5432)
    elif type_token == "aws:s3/bucket:Bucket":
        outputs.setdefault("bucket", name)
    elif type_token == "random:index/randomPassword:RandomPassword":
        outputs["result"] = "mock-password-" + "x" * 16
    return outputs


class _RecordingMocks(pulumi_mocks.Mocks):
    def __init__(self, outputs_for: OutputsFor) -> None:
        self.outputs_for = outputs_for
        self.request_by_thread = threading.local()
        self.lock = threading.Lock()
        self.declared: list[DeclaredResource] = []

    def new_resource(
        self, args: pulumi_mocks.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        request = getattr(self.request_by_thread, "request", None)
        is_read = bool(getattr(self.request_by_thread, "reading", False))
        inputs = {key: _plain(value) for key, value in args.inputs.items()}
        parent = getattr(request, "parent", "")
        declared = DeclaredResource(
            type=args.typ,
            name=args.name,
            urn=_urn(parent, args.typ, args.name),
            parent=parent,
            custom=True if is_read or request is None else bool(args.custom),
            inputs=inputs,
            protect=bool(getattr(request, "protect", False)),
            provider=args.provider or "",
            additional_secret_outputs=tuple(getattr(request, "additionalSecretOutputs", ())),
            is_read=is_read,
            read_id=str(args.resource_id or "") if is_read else "",
            property_dependencies=_property_dependencies(request),
            dependencies=tuple(getattr(request, "dependencies", ()) or ()),
        )
        with self.lock:
            self.declared.append(declared)
        plain_inputs = {key: unwrap_rpc_secret(value) for key, value in args.inputs.items()}
        return f"{args.name}-id", self.outputs_for(args.typ, args.name, plain_inputs)

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, plus the registration request (parent, protect, ...)."""

    def __init__(self, mocks: _RecordingMocks) -> None:
        super().__init__(mocks)
        self._recording = mocks

    def RegisterResource(self, request: Any) -> Any:
        self._recording.request_by_thread.request = request
        try:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        finally:
            self._recording.request_by_thread.request = None

    def ReadResource(self, request: Any) -> Any:
        """A ``get``: recorded with its parent and ID, marked as a read."""
        state = self._recording.request_by_thread
        state.request, state.reading = request, True
        try:
            return super().ReadResource(request)  # type: ignore[no-untyped-call]
        finally:
            state.request, state.reading = None, False


def _property_dependencies(request: Any) -> dict[str, tuple[str, ...]]:
    dependencies = getattr(request, "propertyDependencies", None) or {}
    return {key: tuple(entry.urns) for key, entry in dependencies.items() if tuple(entry.urns)}


def _urn(parent: str, type_token: str, name: str) -> str:
    qualified = type_token
    if parent:
        parent_type = parent.split("::")[2].rsplit("$", maxsplit=1)[-1]
        qualified = f"{parent_type}${type_token}"
    return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{qualified}::{name}"


def _plain(value: Any) -> Any:
    """Turn SDK wire values into plain Python, keeping secretness and unknowns visible."""
    if is_rpc_secret(value):
        return SecretValue(_plain(unwrap_rpc_secret(value)))
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def run_under_mocks(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: Mapping[str, Any] | None = None,
    preview: bool = False,
    outputs_for: OutputsFor = plausible_outputs,
    organization: str | None = "organization",
) -> MockRun:
    """Run ``program`` as the Pulumi engine would, with every resource call mocked.

    ``config`` keys are fully qualified (``project:key``); values are strings or
    JSON-serialisable objects, as ``pulumi config`` stores them. ``organization`` is
    what ``pulumi.get_organization()`` answers (the engine's default for a backend without
    organizations is ``organization``). Exceptions raised by the program propagate
    unchanged.
    """
    return contextvars.Context().run(
        _run_in_fresh_context,
        program,
        project,
        stack,
        dict(config or {}),
        preview,
        outputs_for,
        organization,
    )


def _run_in_fresh_context(
    program: Callable[[], None],
    project: str,
    stack: str,
    config: dict[str, Any],
    preview: bool,
    outputs_for: OutputsFor,
    organization: str | None,
) -> MockRun:
    import json

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        mocks = _RecordingMocks(outputs_for)
        pulumi.runtime.set_all_config(
            {
                key: value if isinstance(value, str) else json.dumps(value)
                for key, value in config.items()
            }
        )
        pulumi_mocks.set_mocks(
            mocks,
            project=project,
            stack=stack,
            preview=preview,
            monitor=_RecordingMonitor(mocks),
            organization=organization,
        )
        loop.run_until_complete(run_pulumi_func(program))
        root = pulumi.runtime.get_root_resource()
        exports = _resolved_exports(loop, root)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return MockRun(project=project, stack=stack, resources=mocks.declared, exports=exports)


def _resolved_exports(loop: asyncio.AbstractEventLoop, root: Any) -> dict[str, Any]:
    outputs: dict[str, Any] = dict(getattr(root, "outputs", {}) or {})
    resolved: dict[str, Any] = {}
    for key, value in outputs.items():
        output = pulumi.Output.from_input(value)
        plain = loop.run_until_complete(output.future())
        secret = loop.run_until_complete(output.is_secret())
        resolved[key] = SecretValue(plain) if secret else plain
    return resolved
