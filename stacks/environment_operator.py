"""Operator mode of a platform stack: environments reconciled in the cnc cluster.

With ``pulumiOperator`` on, the platform declares ``PulumiOperator`` in its cnc cluster
with one ``Stack`` per active request of ``stacks/environments/``, pinned to the commit
this checkout is at (docs/operator.md). The set is judged when the platform is deployed:
an expired request loses its Stack at the next platform update, and the operator then
destroys the environment.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from change_mgmt.documents import DocumentError
from change_mgmt.environments.operator_stack import (
    OperatorStackError,
    OperatorStackSettings,
    head_commit,
    load_requests,
    operator_stacks,
    uncommitted_requests,
)
from components.pulumi_operator import PulumiOperatorArgs, PulumiOperatorError
from components.pulumi_operator.component import PulumiOperator
from policies.config import PolicyConfig
from stacks.platform_config import StackConfigError
from stacks.platform_stack_config import read_operator_config


def declare_environment_operator(
    project_dir: Path,
    environment: str,
    policy: PolicyConfig,
    cnc: k8s.Provider,
    *,
    now: datetime | None = None,
) -> PulumiOperator:
    """The operator and the Stacks of the active requests of ``project_dir``, through
    the cnc cluster's provider; ``now`` judges expiry (default: the clock)."""
    config = read_operator_config(project_dir)
    stack = pulumi.get_stack()
    try:
        commit = head_commit(project_dir)
        changed = uncommitted_requests(project_dir)
        if changed:
            message = (
                f"operator mode deploys commit {commit[:12]}, but these requests differ "
                f"from it here: {', '.join(changed)}; commit (and push) them first"
            )
            if not pulumi.runtime.is_dry_run():
                raise StackConfigError(f"stack {stack!r}: {message}")
            pulumi.log.warn(message)
        stacks = operator_stacks(
            load_requests(project_dir, policy),
            OperatorStackSettings(repo_url=config.operator_repo_url, commit=commit),
            now or datetime.now(UTC),
        )
        return PulumiOperator(
            f"pulumi-operator-{environment}",
            PulumiOperatorArgs(
                environment=environment,
                stacks=stacks,
                workspace_role_arn=config.operator_workspace_role_arn,
            ),
            pulumi.ResourceOptions(providers={"kubernetes": cnc}),
        )
    except (OperatorStackError, PulumiOperatorError) as exc:
        raise StackConfigError(f"stack {stack!r}: {exc}") from None
    except DocumentError as exc:
        raise StackConfigError(
            f"stack {stack!r}: operator mode needs every environment request valid "
            f"(leaving one out would destroy it):\n{exc}"
        ) from None
