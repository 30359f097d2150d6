"""The one normalized model of a previewed change, shared by every consumer.

Both machine formats of a Pulumi preview (``pulumi preview --json`` and engine event
streams) are parsed into a :class:`ChangeSet`. Consumers (risk, approvals, tickets, the
gate) read only this model; none of them sees raw preview JSON. Every input value in it
is already redacted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Every step op the engine is documented to emit (DESIGN.md §3). Anything else is
# "unknown" and must be scored as the riskiest kind, never ignored.
KNOWN_OPS = frozenset(
    {
        "same",
        "create",
        "update",
        "delete",
        "replace",
        "create-replacement",
        "delete-replaced",
        "read",
        "read-replacement",
        "refresh",
        "discard",
        "discard-replaced",
        "remove-pending-replace",
        "import",
        "import-replacement",
    }
)

# Steps that are only one half of a replacement: the engine emits them next to a
# ``replace`` step for the same URN. They fold into that resource's ``replace``.
REPLACEMENT_PARTS = frozenset(
    {
        "create-replacement",
        "delete-replaced",
        "read-replacement",
        "import-replacement",
        "discard-replaced",
        "remove-pending-replace",
    }
)


@dataclass(frozen=True, slots=True)
class ResourceChange:
    """What the preview will do to one resource (all steps for its URN folded together).

    ``op`` is the resource's primary operation: ``replace`` when any replacement step is
    present, otherwise the op of its first step. ``ops`` keeps every step op in order.
    """

    urn: str
    type: str
    name: str
    op: str
    ops: tuple[str, ...]
    parent: str | None = None
    provider: str | None = None
    protect: bool = False
    custom: bool = True
    replace_reasons: tuple[str, ...] = ()
    changed_paths: tuple[str, ...] = ()
    diff_kinds: Mapping[str, str] = field(default_factory=dict)
    old_inputs: Mapping[str, Any] | None = None
    new_inputs: Mapping[str, Any] | None = None
    dependencies: tuple[str, ...] = ()
    delete_before_replace: bool = False

    @property
    def is_change(self) -> bool:
        """False for steps that leave the resource as it is (``same``)."""
        return self.op != "same"

    @property
    def unknown_ops(self) -> tuple[str, ...]:
        return tuple(op for op in self.ops if op not in KNOWN_OPS)


@dataclass(frozen=True, slots=True)
class PolicyViolation:
    """A CrossGuard finding reported by the engine (only event streams carry these)."""

    policy: str
    pack: str
    enforcement: str
    message: str
    urn: str | None = None
    severity: str | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: str
    message: str
    urn: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """A redacted, normalized preview of one stack, and the digest that identifies it.

    ``stack`` is the stack the change is gated as (given by the caller, else read from
    the URNs); ``preview_stack`` is the one the URNs name, when they name one.
    ``failure`` says why the engine or CLI reported the preview failed (error
    diagnostics say so too, see :attr:`failures`); ``incomplete`` why the preview does
    not hold every change (a truncated event log, a summary counting more changes than
    the steps carry). Either means the preview cannot say what would change.
    """

    stack: str
    project: str | None
    source: str
    changes: tuple[ResourceChange, ...]
    digest: str
    policy_violations: tuple[PolicyViolation, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    maybe_corrupt: bool = False
    preview_stack: str | None = None
    failure: str | None = None
    incomplete: str | None = None

    @property
    def failures(self) -> tuple[str, ...]:
        """Why the preview failed: the reported failure, then every error diagnostic."""
        errors = tuple(d.message for d in self.diagnostics if d.severity == "error")
        return (self.failure, *errors) if self.failure else errors

    @property
    def stack_mismatch(self) -> bool:
        """The stack named by the preview's URNs is not the one it is gated as."""
        return self.preview_stack is not None and self.preview_stack != self.short_stack

    @property
    def short_stack(self) -> str:
        """``prod`` for ``acme/sre-platform/prod``: the name URNs carry."""
        return self.stack.rsplit("/", 1)[-1]

    @property
    def summary(self) -> dict[str, int]:
        """Resources per primary op, ``same`` included, in a stable order."""
        return dict(sorted(Counter(change.op for change in self.changes).items()))

    @property
    def actual_changes(self) -> tuple[ResourceChange, ...]:
        return tuple(change for change in self.changes if change.is_change)

    def by_urn(self) -> dict[str, ResourceChange]:
        return {change.urn: change for change in self.changes}
