"""Benchmark: how long whole `sre` processes take, against baselines run alongside them.

A user feels the whole process, interpreter start included, so every figure here is a
fresh process, timed from spawn to exit. Each command is paired with its baseline and the
two are run alternately (baseline, command, baseline, command, …) so that a busy machine
slows both alike; the printed figure is the median of the pairs' ratios.

    sre --help / sre --version / sre env validate   vs  python3 -c "import pydantic"
    sre gate on a 10k-step preview                  vs  python3 -c "json.load(that file)"

Targets (issue 12): ≤ 2× for the first three, ≤ 3× for the gate.

Compiled bytecode is cached, as on any machine where Python may write it: every process
(baselines too) writes and reads its ``.pyc`` files in a private ``PYTHONPYCACHEPREFIX``,
so a runner with ``PYTHONDONTWRITEBYTECODE`` set does not make ``sre`` recompile its own
modules at every start, and the checkout gets no ``__pycache__``. ``--as-is`` runs with
the environment unchanged.

    python3 benchmarks/cli_startup.py [--pairs 5] [--steps 10000] [--only validate]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.gate_pipeline import synthetic_preview  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    command: list[str]
    baseline: list[str]
    target: float | None
    """None: a reference point, not a command of ours."""
    cwd: Path
    env: dict[str, str] | None = None


def sre_executable() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("sre")
    if script.is_file():
        return [str(script)]
    found = shutil.which("sre")
    return [found] if found else [sys.executable, "-m", "change_mgmt.cli"]


def cached_bytecode_env(prefix: Path) -> dict[str, str]:
    """This environment, with bytecode written to and read from ``prefix``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(prefix)
    return env


def wall_seconds(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 3):  # 3: a closed gate is a normal answer
        raise SystemExit(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stderr.decode()[-2000:]}"
        )
    return elapsed


def measure(case: Case, pairs: int) -> tuple[float, float, float]:
    """Median seconds of the command, of the baseline, and the median ratio of pairs."""
    wall_seconds(case.baseline, case.cwd, case.env)  # warm the page and bytecode caches
    wall_seconds(case.command, case.cwd, case.env)
    commands, baselines, ratios = [], [], []
    for _ in range(pairs):
        base = wall_seconds(case.baseline, case.cwd, case.env)
        took = wall_seconds(case.command, case.cwd, case.env)
        baselines.append(base)
        commands.append(took)
        ratios.append(took / base)
    return statistics.median(commands), statistics.median(baselines), statistics.median(ratios)


FLOOR = """
import typer, yaml
from pydantic import BaseModel, EmailStr
from rich.console import Console

class Request(BaseModel):
    name: str
    owner: EmailStr

def validate(path: str) -> None:
    Request.model_validate(yaml.safe_load(open(path)))
    Console().print(f"[green]ok[/]: {path}")

typer.run(validate)
"""


def cases(workdir: Path, steps: int, env: dict[str, str] | None) -> list[Case]:
    sre = sre_executable()
    python = sys.executable
    pydantic = [python, "-c", "import pydantic"]
    preview = workdir / "preview.json"
    preview.write_text(synthetic_preview(steps))
    project = workdir / "project"
    project.mkdir()
    json_load = [python, "-c", f"import json; json.load(open({str(preview)!r}))"]
    gate = [*sre, "gate", "--stack", "prod", "--preview", str(preview)]
    gate += ["--project-dir", str(project), "--format", "json"]
    request = workdir / "request.yaml"
    request.write_text("name: floor\nowner: dev@example.com\n")
    floor = [python, "-c", FLOOR, str(request)]
    return [
        Case("sre --help", [*sre, "--help"], pydantic, 2.0, ROOT, env),
        Case("sre --version", [*sre, "--version"], pydantic, 2.0, ROOT, env),
        Case("sre env validate", [*sre, "env", "validate"], pydantic, 2.0, ROOT, env),
        Case("floor: typer+pydantic+yaml", floor, pydantic, None, ROOT, env),
        Case(f"sre gate ({steps} steps)", gate, json_load, 3.0, ROOT, env),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=5, help="alternating pairs per case")
    parser.add_argument("--steps", type=int, default=10_000, help="steps of the gated preview")
    parser.add_argument(
        "--only", metavar="TEXT", default="", help="run only the cases whose name contains TEXT"
    )
    parser.add_argument(
        "--as-is", action="store_true", help="keep the environment's bytecode settings"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sre-bench-") as tmp:
        env = None if options.as_is else cached_bytecode_env(Path(tmp) / "pycache")
        print(f"bytecode: {'as the environment says' if env is None else 'cached'}")
        print(f"{'case':<28} {'command':>9} {'baseline':>9} {'ratio':>7} {'target':>7}")
        for case in cases(Path(tmp), options.steps, env):
            if options.only not in case.name:
                continue
            took, base, ratio = measure(case, options.pairs)
            if case.target is None:
                goal = f"{'-':>6} reference"
            else:
                verdict = "ok" if ratio <= case.target else "OVER"
                goal = f"{case.target:>5.1f}× {verdict}"
            print(f"{case.name:<28} {took:>8.3f}s {base:>8.3f}s {ratio:>6.2f}× {goal}")


if __name__ == "__main__":
    main()
