"""A missing Alertmanager binary skips on a laptop and fails in CI."""

from __future__ import annotations

import pytest

from tests.components.observability.tools import require_tool


def test_a_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="in CI this fails"):
        require_tool("amtool")


def test_a_missing_tool_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y prometheus-alertmanager"):
        require_tool("amtool")
