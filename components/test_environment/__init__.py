"""Self-serve Mattermost test environments as one Pulumi component.

The typed arguments load without the Pulumi SDK, so the request model and the CLI can
use them quickly; the component itself (and the SDK) load on first use.
"""

import importlib
from typing import TYPE_CHECKING, Any

from components.test_environment.args import (
    DATABASE_TYPES,
    DEFAULT_DATABASE,
    FILESTORE_TYPES,
    SIZE_NAMES,
    SIZES,
    EnvVar,
    PlatformSettings,
    SecretKeyRef,
    SizeSpec,
    TestEnvironmentArgs,
)

if TYPE_CHECKING:
    from components.test_environment.component import TYPE_TOKEN, TestEnvironment
    from components.test_environment.errors import TestEnvironmentError
    from components.test_environment.quotas import Quota, quota_for

_LAZY = {
    "TYPE_TOKEN": "component",
    "TestEnvironment": "component",
    "TestEnvironmentError": "errors",
    "Quota": "quotas",
    "quota_for": "quotas",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATABASE_TYPES",
    "DEFAULT_DATABASE",
    "FILESTORE_TYPES",
    "SIZES",
    "SIZE_NAMES",
    "TYPE_TOKEN",
    "EnvVar",
    "PlatformSettings",
    "Quota",
    "SecretKeyRef",
    "SizeSpec",
    "TestEnvironment",
    "TestEnvironmentArgs",
    "TestEnvironmentError",
    "quota_for",
]
