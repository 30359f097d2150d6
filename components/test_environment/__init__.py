"""Self-serve Mattermost test environments as one Pulumi component."""

from components.test_environment.args import (
    DATABASE_TYPES,
    FILESTORE_TYPES,
    SIZE_NAMES,
    SIZES,
    EnvVar,
    PlatformSettings,
    SecretKeyRef,
    SizeSpec,
    TestEnvironmentArgs,
)
from components.test_environment.component import TYPE_TOKEN, TestEnvironment
from components.test_environment.errors import TestEnvironmentError
from components.test_environment.quotas import Quota, quota_for

__all__ = [
    "DATABASE_TYPES",
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
