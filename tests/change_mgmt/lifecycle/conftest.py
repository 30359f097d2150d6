from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.change_mgmt.lifecycle.helpers import (
    PLATFORM_FILE,
    Backend,
    Checkout,
    make_backend,
    make_checkout,
)


@pytest.fixture
def checkout(tmp_path: Path) -> Callable[..., Checkout]:
    return lambda **requests: make_checkout(tmp_path, **requests)


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Backend]:
    return make_backend(tmp_path, monkeypatch)


@pytest.fixture
def platform_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test cluster's real platform values, where $SRE_ENV_PLATFORM_CONFIG points."""
    path = tmp_path / "env-platform.yaml"
    path.write_text(PLATFORM_FILE)
    monkeypatch.setenv("SRE_ENV_PLATFORM_CONFIG", str(path))
    monkeypatch.delenv("SRE_SHARED_DB_ADMIN_PASSWORD", raising=False)
    monkeypatch.delenv("SRE_CHANGE_AUTHOR", raising=False)
    return path
