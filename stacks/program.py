"""Choose and run the program for the current stack (called by the root ``__main__.py``).

``env-<name>`` stacks are self-serve test environments (stacks/test_environment.py);
``dev``, ``staging`` and ``prod`` are the platform (stacks/platform.py).
"""

from __future__ import annotations

from pathlib import Path

import pulumi

from change_mgmt.documents import DocumentError
from change_mgmt.environments.catalog import REQUESTS_DIR
from policies.config import PACK_DIR, PolicyConfig
from policies.evaluate import load_settings
from stacks.platform_stack_config import PLATFORM_STACKS
from stacks.production_guard import require_gate_receipt
from stacks.test_environment import STACK_PREFIX


def _policy(project_dir: Path) -> PolicyConfig:
    try:
        return load_settings(project_dir / PACK_DIR, shown_dir=PACK_DIR).config
    except DocumentError as exc:
        raise pulumi.RunError(f"invalid policy pack settings:\n{exc}") from None


def run_stack(project_dir: Path) -> None:
    """Pick the program for the current stack by its name and run it; a plain ``pulumi
    up`` of a production stack stops without a gate receipt (``stacks/production_guard.py``
    says what that does and does not stop)."""
    require_gate_receipt(project_dir)
    stack = pulumi.get_stack()
    if stack.startswith(STACK_PREFIX):
        from stacks.test_environment import build as build_test_environment

        build_test_environment(project_dir, _policy(project_dir))
        return
    if stack in PLATFORM_STACKS:
        from stacks.platform import build as build_platform

        build_platform(project_dir, _policy(project_dir))
        return
    raise pulumi.RunError(
        f"no program for stack {stack!r}: the platform stacks are "
        f"{', '.join(PLATFORM_STACKS)} (Pulumi.<stack>.yaml); test environments are stacks "
        f"named {STACK_PREFIX}<name> with a request file in {REQUESTS_DIR}/<name>.yaml"
    )
