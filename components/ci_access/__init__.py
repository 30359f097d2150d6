"""CI access: the GitHub OIDC provider and the previewer and deployer roles of one
platform environment (``CiAccess``), built from typed args (``CiAccessArgs``)."""

from components.ci_access.args import (
    POWER_USER_ACCESS,
    READ_ONLY_ACCESS,
    CiAccessArgs,
    CiAccessError,
)
from components.ci_access.component import TYPE_TOKEN, CiAccess

__all__ = [
    "POWER_USER_ACCESS",
    "READ_ONLY_ACCESS",
    "TYPE_TOKEN",
    "CiAccess",
    "CiAccessArgs",
    "CiAccessError",
]
