"""A guard against mistakes on laptops: production updates only with a gate receipt.

What it stops. When the program runs for a real update (``pulumi up``, also with
``--skip-preview`` or ``--target``) of a stack whose tier is production (by the
repository's risk policy), it refuses unless ``sre up`` gave it a receipt
(``$SRE_GATE_RECEIPT``) signed by a gate key listed in the stack config
``sre-platform:gateReceiptSigners``, for this exact stack (``org/project/stack``) and the
plan file in ``$SRE_GATE_PLAN``, and not expired. Previews are free for everyone.

What it cannot stop. The engine runs no program for ``pulumi destroy``, ``refresh``,
``import`` or ``pulumi state …``, so this check never sees them; and whoever can edit
the stack config (the signers) or ``risk-policy.yaml`` (the tiers) locally can switch it
off. It is not a security boundary. The control is credentials: only CI's ``sre up`` can
assume the deployer role that may change production (a later issue). See
``change_mgmt/receipts.py`` for the key handling.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pulumi

from change_mgmt.receipts import (
    PLAN_ENV,
    RECEIPT_ENV,
    ReceiptError,
    full_stack_name,
    verify_receipt,
)
from change_mgmt.risk.policy import REPOSITORY_POLICY_FILE, load_risk_policy

SIGNERS_KEY = "gateReceiptSigners"


class GateReceiptRequired(pulumi.RunError):
    """A production update was attempted without a valid gate receipt."""


def require_gate_receipt(project_dir: Path, now: datetime | None = None) -> None:
    """Stop a real update of a production stack that did not come through ``sre up``."""
    if pulumi.runtime.is_dry_run():
        return
    stack = pulumi.get_stack()
    policy = load_risk_policy(project_dir / REPOSITORY_POLICY_FILE)
    if policy.tier_of(stack) != "production":
        return
    advice = f"run `sre up --stack {stack}` (previews need no receipt)"
    token = os.environ.get(RECEIPT_ENV)
    plan = os.environ.get(PLAN_ENV)
    if not token or not plan:
        raise GateReceiptRequired(
            f"stack {stack!r} is production: it is updated only through the change gate; {advice}"
        )
    signers = pulumi.Config("sre-platform").get_object(SIGNERS_KEY) or []
    if not isinstance(signers, list) or not all(isinstance(line, str) for line in signers):
        raise GateReceiptRequired(f"sre-platform:{SIGNERS_KEY} must be a list of strings")
    try:
        verify_receipt(
            token,
            stack=_engine_stack_name(),
            plan=Path(plan),
            signers=signers,
            now=now or datetime.now(UTC),
        )
    except ReceiptError as exc:
        raise GateReceiptRequired(f"stack {stack!r} is production and {exc}; {advice}") from None


def _engine_stack_name() -> str:
    """The full name of the stack the engine runs (``org/project/stack``)."""
    # Typed ``str``, but ``None`` when the engine does not say (old CLIs, mocks).
    organization: str | None = pulumi.get_organization()
    if not organization:
        raise ReceiptError("the engine did not say which organization the stack belongs to")
    return full_stack_name(organization, pulumi.get_project(), pulumi.get_stack())
