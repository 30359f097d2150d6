"""The change gate on laptops: a production stack updates only with a gate receipt.

Previews are free for everyone. A real update (``pulumi up``, ``destroy``, ``refresh``)
of a stack whose tier is production (by the repository's risk policy) needs the receipt
``sre up`` passes in ``$SRE_GATE_RECEIPT``, signed by a gate key listed in the stack config
``sre-platform:gateReceiptSigners``. See ``change_mgmt/receipts.py`` for the key handling.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pulumi

from change_mgmt.receipts import RECEIPT_ENV, ReceiptError, verify_receipt
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
    if not token:
        raise GateReceiptRequired(
            f"stack {stack!r} is production: it is updated only through the change gate; {advice}"
        )
    signers = pulumi.Config("sre-platform").get_object(SIGNERS_KEY) or []
    if not isinstance(signers, list) or not all(isinstance(line, str) for line in signers):
        raise GateReceiptRequired(f"sre-platform:{SIGNERS_KEY} must be a list of strings")
    try:
        verify_receipt(token, stack=stack, signers=signers, now=now or datetime.now(UTC))
    except ReceiptError as exc:
        raise GateReceiptRequired(f"stack {stack!r} is production and {exc}; {advice}") from None
