"""The exact-revision rule: SemVer (optionally v-prefixed) or a full commit id."""

from __future__ import annotations

import pytest

from change_mgmt.gitops.revisions import is_exact


@pytest.mark.parametrize(
    "revision",
    [
        "1.2.3",
        "v1.2.3",
        "65.1.1",
        "0.10.1",
        "1.0.0-rc.1",
        "2.0.0+build.7",
        "a" * 40,
        "0123456789abcdef" * 2 + "01234567",
    ],
)
def test_exact(revision: str) -> None:
    assert is_exact(revision)


@pytest.mark.parametrize(
    "revision",
    [
        "HEAD",
        "main",
        "master",
        "release-1.2",
        "1.2",
        "v1",
        "1.2.*",
        ">=1.0.0",
        "01.2.3",
        "abc1234",
        "A" * 40,
        "a" * 39,
        "1.2.3 ",
    ],
)
def test_mutable(revision: str) -> None:
    assert not is_exact(revision)
