"""The root command imports each command's module only when that command is used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from change_mgmt.cli.app import COMMANDS, app, load_command

HEAVY = ("git", "httpx", "pulumi", "change_mgmt.approvals", "change_mgmt.gate", "pydantic")

PROBE = """
import json, sys
from change_mgmt.cli.app import main
sys.argv = ["sre", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit:
    pass
heavy = {heavy}
print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr)
"""


def _imported_heavy(args: list[str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=list(HEAVY)), json.dumps(args)],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(result.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["--help"], ["--version"], []])
def test_root_help_and_version_import_no_command_module(args: list[str]) -> None:
    assert _imported_heavy(args) == []


def test_a_command_imports_what_it_needs() -> None:
    # The probe can tell: the gate's own help does load the gate.
    assert "change_mgmt.gate" in _imported_heavy(["gate", "--help"])


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_loads_under_its_name(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert f"sre {name}" in result.output


def test_root_help_lists_every_command_with_its_summary() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    words = " ".join(result.output.split())  # help wraps at 80 columns at most
    for name, entry in COMMANDS.items():
        assert f" {name} {entry.summary}" in words


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["deploy"])
    assert result.exit_code == 2
    assert "No such command" in result.output
