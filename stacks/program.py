"""Choose and run the program for the current stack (called by the root ``__main__.py``)."""

from __future__ import annotations

from pathlib import Path

import pulumi

from change_mgmt.documents import DocumentError
from change_mgmt.environments.catalog import REQUESTS_DIR
from policies.config import PACK_DIR
from policies.evaluate import load_settings
from stacks.production_guard import require_gate_receipt
from stacks.test_environment import STACK_PREFIX
from stacks.test_environment import build as build_test_environment


def run_stack(project_dir: Path) -> None:
    """Pick the program for the current stack by its name and run it; a plain ``pulumi
    up`` of a production stack stops without a gate receipt (``stacks/production_guard.py``
    says what that does and does not stop)."""
    require_gate_receipt(project_dir)
    stack = pulumi.get_stack()
    if stack.startswith(STACK_PREFIX):
        try:
            policy = load_settings(project_dir / PACK_DIR, shown_dir=PACK_DIR).config
        except DocumentError as exc:
            raise pulumi.RunError(f"invalid policy pack settings:\n{exc}") from None
        build_test_environment(project_dir, policy)
        return
    raise pulumi.RunError(
        f"no program for stack {stack!r}: test environments are stacks named "
        f"{STACK_PREFIX}<name> with a request file in {REQUESTS_DIR}/<name>.yaml"
    )
