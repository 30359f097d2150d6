"""Tags every taggable AWS resource of a test environment must carry."""

from __future__ import annotations

from collections.abc import Mapping

REQUIRED_TEST_ENVIRONMENT_TAGS: tuple[str, ...] = (
    "owner",
    "team",
    "environment",
    "expires-at",
    "managed-by",
)


def missing_tags(
    tags: Mapping[str, object] | None,
    required: tuple[str, ...] = REQUIRED_TEST_ENVIRONMENT_TAGS,
) -> list[str]:
    """The required tag keys absent (or empty) in ``tags``, in ``required`` order."""
    present = tags or {}
    return [key for key in required if not present.get(key)]
