"""The Pulumi Kubernetes Operator in the cnc cluster, reconciling environment Stacks.

The names and typed arguments load without the Pulumi SDK (the request renderer in
change_mgmt uses them); the component itself is ``components.pulumi_operator.component``.
"""

from components.pulumi_operator.args import (
    OPERATOR_RESOURCES,
    ContainerResources,
    PulumiOperatorArgs,
    PulumiOperatorError,
    stack_document_problems,
)

__all__ = [
    "OPERATOR_RESOURCES",
    "ContainerResources",
    "PulumiOperatorArgs",
    "PulumiOperatorError",
    "stack_document_problems",
]
