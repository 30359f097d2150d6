"""Every rule of the pack, by module; :data:`ALL_RULES` is what the pack and the harness run.

Kept out of the package ``__init__`` so that importing one rule module (request validation
needs only ``test_environments.size_refusal``) does not import every rule.
"""

from __future__ import annotations

from policies.model import Rule
from policies.rules import (
    aws_tagging,
    helm,
    iam,
    kms,
    kubernetes,
    network,
    protection,
    rds,
    s3,
    test_environments,
)

ALL_RULES: tuple[Rule, ...] = (
    *aws_tagging.RULES,
    *s3.RULES,
    *rds.RULES,
    *network.RULES,
    *iam.RULES,
    *kms.RULES,
    *kubernetes.RULES,
    *helm.RULES,
    *test_environments.RULES,
    *protection.RULES,
)
