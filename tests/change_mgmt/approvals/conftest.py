"""Keys are made once per session; repositories once per package, copied per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.change_mgmt.approvals.helpers import (
    Person,
    copy_repository,
    isolated_git,
    make_people,
    make_repository,
)


@pytest.fixture(scope="session")
def people(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Person]:
    return make_people(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="package", autouse=True)
def _isolated_git(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with isolated_git(tmp_path_factory.mktemp("home")):
        yield


@pytest.fixture(scope="package")
def template(
    tmp_path_factory: pytest.TempPathFactory, people: dict[str, Person], _isolated_git: None
) -> Path:
    return make_repository(tmp_path_factory.mktemp("template") / "repo", people)


@pytest.fixture
def repo(tmp_path: Path, template: Path) -> Path:
    return copy_repository(template, tmp_path / "repo")
