"""The GitHub Actions workflows: actionlint, pinned actions, least permissions, and every
``sre …`` line they run names a command and options the real CLI has."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from change_mgmt.cli.app import COMMANDS, load_command
from tests.conftest import REPO_ROOT

GITHUB = REPO_ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")
# The one write scope each is allowed for, and the action that needs it.
WRITE_SCOPES = {
    "pull-requests": "marocchino/sticky-pull-request-comment",
    "id-token": "aws-actions/configure-aws-credentials",
}


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text())
    return document


def ids(paths: list[Path]) -> list[str]:
    return [path.relative_to(REPO_ROOT).as_posix() for path in paths]


def test_the_five_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == [
        "deploy.yml",
        "drift.yml",
        "env-request.yml",
        "hourly.yml",
        "platform-change.yml",
    ]


# --- actionlint ---------------------------------------------------------------------


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("actionlint")
    assert binary, "actionlint is not installed: pip install -c constraints.txt -e '.[test]'"
    return subprocess.run(
        [binary, "-no-color", "-oneline", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_actionlint_passes(path: Path) -> None:
    # ShellCheck checks the run: scripts too where it is installed (actionlint finds it).
    result = actionlint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-24.04\n"
        "    permissions: {}\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
        "      - uses: actions/checkout@v7\n        with:\n          fetch_depth: 0\n"
    )
    result = actionlint(broken)
    assert result.returncode == 1
    assert "potentially untrusted" in result.stdout
    assert 'input "fetch_depth" is not defined' in result.stdout


# --- pinned actions -----------------------------------------------------------------


def uses_lines(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if re.match(r"^\s*(-\s+)?uses:", line):
            yield number, line


def pin_problem(line: str) -> str | None:
    """Why a ``uses:`` line is not pinned to a full commit with its version, or None."""
    value = line.split("uses:", 1)[1].split("#", 1)[0].strip().strip("\"'")
    if value.startswith("./"):
        return None  # this repository's own action, checked out with the workflow
    if not PINNED.match(value):
        return f"{value!r} is not pinned to a 40-hex commit SHA"
    if not VERSION_COMMENT.search(line):
        return f"{value!r} has no '# vX.Y.Z' comment naming the release"
    return None


@pytest.mark.parametrize("path", WORKFLOWS + ACTIONS, ids=ids(WORKFLOWS + ACTIONS))
def test_every_third_party_action_is_pinned_to_a_commit(path: Path) -> None:
    lines = list(uses_lines(path))
    assert lines
    problems = [f"line {n}: {p}" for n, line in lines if (p := pin_problem(line))]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("      - uses: actions/checkout@v7", "not pinned"),
        ("      - uses: actions/checkout@v7.0.1 # v7.0.1", "not pinned"),
        ("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b", "not pinned"),
        ("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "no '# v"),
        ("      - uses: docker://alpine:3", "not pinned"),
        ("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1", None),
        ("      - uses: ./.github/actions/setup-sre", None),
    ],
)
def test_the_pin_check_refuses_tags_and_short_shas(line: str, problem: str | None) -> None:
    found = pin_problem(line)
    assert (found is None) if problem is None else (found is not None and problem in found)


# --- permissions --------------------------------------------------------------------


def step_uses(job: dict[str, Any]) -> set[str]:
    return {str(step["uses"]).split("@")[0] for step in job.get("steps", []) if "uses" in step}


def permission_problems(name: str, job: dict[str, Any]) -> list[str]:
    """What is wrong with one job's ``permissions:`` (empty when nothing)."""
    if "permissions" not in job:
        return [f"job {name} declares no permissions:"]
    granted = job["permissions"] or {}
    if not isinstance(granted, dict):
        return [f"job {name}: permissions must list scopes, not {granted!r}"]
    problems = []
    used = step_uses(job)
    for scope, level in granted.items():
        if level != "write":
            continue
        needed_by = WRITE_SCOPES.get(scope)
        if needed_by is None:
            problems.append(f"job {name} asks for {scope}: write, which no workflow needs")
        elif needed_by not in used:
            problems.append(f"job {name} asks for {scope}: write but does not use {needed_by}")
    if granted.get("pull-requests") == "write" and "actions/checkout" in used:
        problems.append(f"job {name} holds pull-requests: write and checks out code")
    return problems


@pytest.mark.parametrize("path", WORKFLOWS, ids=ids(WORKFLOWS))
def test_least_permissions(path: Path) -> None:
    workflow = load(path)
    assert workflow.get("permissions") == {}, "the workflow's default must be no permission"
    problems = [p for name, job in workflow["jobs"].items() for p in permission_problems(name, job)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("job", "problem"),
    [
        ({"steps": []}, "declares no permissions"),
        ({"permissions": "write-all", "steps": []}, "must list scopes"),
        ({"permissions": {"contents": "write"}, "steps": []}, "contents: write"),
        ({"permissions": {"id-token": "write"}, "steps": []}, "does not use aws-actions"),
        (
            {
                "permissions": {"pull-requests": "write"},
                "steps": [
                    {"uses": "actions/checkout@x"},
                    {"uses": "marocchino/sticky-pull-request-comment@x"},
                ],
            },
            "checks out code",
        ),
    ],
)
def test_the_permission_check_refuses_excess(job: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in permission_problems("x", job))


# --- sre command lines --------------------------------------------------------------


def run_blocks(path: Path) -> Iterator[str]:
    document = load(path)
    jobs = document.get("jobs") or {"action": document.get("runs", {})}
    for job in jobs.values():
        for step in job.get("steps", []):
            if "run" in step:
                yield str(step["run"])


def sre_command_lines(script: str) -> Iterator[list[str]]:
    """Each ``sre …`` simple command of a shell script, as words (up to a redirection,
    pipe or list operator)."""
    script = script.replace("\\\n", " ")
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words: list[str] = []
        for token in [*lexer, ";"]:
            if token and set(token) <= set(";&|<>()"):
                if words and words[0] == "sre":
                    yield words
                words = []
                if ">" in token or "<" in token:
                    words = ["<redirect>"]  # the file name that follows is not a command
            else:
                words.append(token)


def command_problem(words: list[str]) -> str | None:
    """Whether ``sre …`` names an existing command path and only options it has."""
    assert words[0] == "sre"
    if len(words) < 2 or words[1] not in COMMANDS:
        return f"sre has no command {words[1:2]}"
    command = load_command(words[1])
    path = ["sre", words[1]]
    rest = words[2:]
    while getattr(command, "commands", None) is not None:
        if not rest or rest[0].startswith("-"):
            return f"{' '.join(path)} is a group: give one of its commands"
        sub = command.commands.get(rest[0])  # type: ignore[attr-defined]
        if sub is None:
            return (
                f"{' '.join(path)} has no command {rest[0]!r} (not built yet? it has: "
                f"{', '.join(sorted(command.commands))})"  # type: ignore[attr-defined]
            )
        path.append(rest[0])
        command, rest = sub, rest[1:]
    options = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    unknown = [w.split("=", 1)[0] for w in rest if w.startswith("-")]
    unknown = [w for w in unknown if w not in options]
    if unknown:
        return f"{' '.join(path)} has no option {', '.join(unknown)}"
    return None


def sre_lines() -> list[tuple[str, list[str]]]:
    found = []
    for path in WORKFLOWS + ACTIONS:
        for block in run_blocks(path):
            for words in sre_command_lines(block):
                found.append((f"{path.name}: {' '.join(words)}", words))
    return found


SRE_LINES = sre_lines()


def test_the_workflows_run_the_commands_they_are_for() -> None:
    commands = {" ".join(w[:3]) for _, w in SRE_LINES}
    assert {
        "sre env validate",
        "sre env comment",
        "sre env changed",
        "sre env up",
        "sre env reap",
        "sre env remind",
        "sre stack affected",
        "sre stack drift",
        "sre gate --stack",
        "sre up --stack",
    } <= commands


@pytest.mark.parametrize("words", [w for _, w in SRE_LINES], ids=[i for i, _ in SRE_LINES])
def test_every_sre_line_names_a_real_command_and_options(words: list[str]) -> None:
    problem = command_problem(words)
    assert problem is None, problem


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        ('sre env validate --changed-snice "origin/${BASE_REF}"', "no option --changed-snice"),
        ("sre env nosuch NAME", "has no command 'nosuch'"),
        ("sre nosuch", "sre has no command"),
        ("sre env --format json", "is a group"),
        ("sre gate --stack prod --event x.jsonl --format markdown", "no option --event"),
        ('sre stack affected --since "origin/main" --format=json > "$OUT"', None),
        ("sre gate --stack \\\n  prod --base-ref origin/main --format markdown > g.md", None),
    ],
)
def test_the_command_check_catches_a_misspelt_line(script: str, problem: str | None) -> None:
    [words] = list(sre_command_lines(script))
    found = command_problem(words)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_command_lines_are_split_at_shell_operators() -> None:
    script = 'echo "x=$(jq -c .a f)" >> "$GITHUB_OUTPUT"\nsre env changed --since "$B" > out.json'
    assert list(sre_command_lines(script)) == [["sre", "env", "changed", "--since", "$B"]]


# --- what the workflows must agree with -----------------------------------------------


def test_the_pulumi_cli_matches_the_pinned_sdk() -> None:
    action = load(GITHUB / "actions" / "setup-sre" / "action.yml")
    [step] = [s for s in action["runs"]["steps"] if str(s.get("uses", "")).startswith("pulumi/")]
    pins = dict(
        line.split("==", 1)
        for line in (REPO_ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert step["with"]["pulumi-version"] == pins["pulumi"]


def test_the_install_matches_the_readme() -> None:
    action = (GITHUB / "actions" / "setup-sre" / "action.yml").read_text()
    assert "pip install -q -c constraints.txt -e ." in action
    assert "pip install -q -c constraints.txt -e ." in (REPO_ROOT / "README.md").read_text()


def test_drift_checks_every_platform_stack() -> None:
    from stacks.platform_stack_config import PLATFORM_STACKS

    job = load(GITHUB / "workflows" / "drift.yml")["jobs"]["drift"]
    include = job["strategy"]["matrix"]["include"]
    assert [entry["stack"] for entry in include] == list(PLATFORM_STACKS)
    assert [entry["role"] for entry in include] == [
        f"AWS_PREVIEWER_ROLE_ARN_{stack.upper()}" for stack in PLATFORM_STACKS
    ]


def test_runs_that_must_not_overlap_are_serialised() -> None:
    reap = load(GITHUB / "workflows" / "hourly.yml")["jobs"]["reap"]["concurrency"]
    assert reap == {"group": "sre-env-reaper", "cancel-in-progress": False}
    deploy = load(GITHUB / "workflows" / "deploy.yml")["jobs"]
    assert deploy["platform"]["concurrency"] == {
        "group": "deploy-${{ matrix.target.stack }}",
        "cancel-in-progress": False,
    }
    assert deploy["environments"]["concurrency"]["cancel-in-progress"] is False


def test_docs_describe_every_workflow() -> None:
    text = (REPO_ROOT / "docs" / "ci.md").read_text()
    missing = [p.name for p in WORKFLOWS if f".github/workflows/{p.name}" not in text]
    assert not missing
