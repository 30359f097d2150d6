"""Benchmark: `sre env validate` and operator-mode rendering at 100, 1,000 and 5,000 requests.

Each size gets its own temporary git checkout (Pulumi.yaml, the policy settings, N
synthetic requests of every database and size, committed). Measured per size:

- validate: the whole `sre env validate` process, minus the same command over an empty
  requests folder (interpreter start and imports, measured in the same run);
- render: loading every request and rendering each as its operator `Stack` resource,
  YAML included (what `--as operator-stack` prints and the platform stack declares);
- declare (with --declare): the `PulumiOperator` component with those Stacks under
  Pulumi mocks, as a platform preview in operator mode would.

Prints the time per request of each and its growth, 5,000 against 100: flat (about
1.0×) means the total grows linearly. Target: ≤ 1.5×.

    python3 benchmarks/environments_at_scale.py [--sizes 100,1000,5000] [--repeat 3] [--declare]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from change_mgmt.environments.operator_stack import (  # noqa: E402
    OperatorStackSettings,
    head_commit,
    load_requests,
    operator_stacks,
    to_yaml,
)

DATABASES = ("aws-multitenant-rds-postgres", "aws-rds-postgres", "operator-managed")
SIZES = ("miniSingleton", "miniHA", "100users", "1000users", "5000users")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}
REPO_URL = "https://git.example.com/sre/sre-platform.git"
SRE_MAIN = "import sys; from change_mgmt.cli.app import main; sys.argv[0] = 'sre'; main()"


def request_text(index: int, expires: datetime) -> str:
    return (
        f"name: bench-{index:05d}\n"
        f"owner: dev{index % 50}@example.com\n"
        f"team: team-{index % 12}\n"
        f"purpose: synthetic request {index}\n"
        'version: "10.11.2"\n'
        f"size: {SIZES[index % len(SIZES)]}\n"
        f"database: {DATABASES[index % len(DATABASES)]}\n"
        f"expires_at: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        "labels:\n"
        f"  cost-centre: cc-{index % 7}\n"
    )


def checkout(parent: Path, count: int) -> Path:
    """A committed git checkout with ``count`` requests (a few of them expired)."""
    root = parent / f"project-{count}"
    requests = root / "stacks" / "environments"
    requests.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / "policies").mkdir()
    shutil.copy(REPO_ROOT / "policies" / "config.yaml", root / "policies" / "config.yaml")
    now = datetime.now(UTC)
    for index in range(count):
        # One in twenty has run past its expiry: reported, not an error; no Stack.
        expires = now - timedelta(days=1) if index % 20 == 0 else now + timedelta(days=3)
        (requests / f"bench-{index:05d}.yaml").write_text(request_text(index, expires))
    for args in (("init", "-q", "-b", "main"), ("add", "-A"), ("commit", "-q", "-m", "requests")):
        subprocess.run(["git", *args], cwd=root, check=True, env=GIT_ENV, capture_output=True)
    return root


def sre_validate(root: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", SRE_MAIN, "env", "validate", "--format", "json"],
        cwd=REPO_ROOT,
        env={**GIT_ENV, "SRE_PROJECT_DIR": str(root), "HOME": str(root)},
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"sre env validate failed in {root}:\n{result.stdout.decode()[:2000]}")
    return elapsed


def render(root: Path) -> float:
    start = time.perf_counter()
    settings = OperatorStackSettings(REPO_URL, head_commit(root))
    stacks = operator_stacks(load_requests(root), settings, datetime.now(UTC))
    text = "---\n".join(to_yaml(document) for document in stacks.values())
    elapsed = time.perf_counter() - start
    assert stacks
    assert text
    return elapsed


def declare(root: Path) -> float:
    from components.pulumi_operator import PulumiOperatorArgs
    from components.pulumi_operator.component import PulumiOperator
    from stacks.mock_engine import run_under_mocks

    settings = OperatorStackSettings(REPO_URL, head_commit(root))
    stacks = operator_stacks(load_requests(root), settings, datetime.now(UTC))

    def program() -> None:
        PulumiOperator("pulumi-operator-bench", PulumiOperatorArgs("bench", stacks=stacks))

    start = time.perf_counter()
    run_under_mocks(program, project="sre-platform", stack="bench")
    return time.perf_counter() - start


def median(measure: Callable[[Path], float], root: Path, repeat: int) -> float:
    return statistics.median(measure(root) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,5000", help="request counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--declare", action="store_true", help="also declare the Stacks under Pulumi mocks"
    )
    options = parser.parse_args()
    sizes = [int(part) for part in options.sizes.split(",")]
    measures: dict[str, Callable[[Path], float]] = {"render": render}
    if options.declare:
        measures["declare"] = declare
    with tempfile.TemporaryDirectory(prefix="sre-bench-") as temp:
        parent = Path(temp)
        empty = checkout(parent, 0)
        sre_validate(empty)  # warm the bytecode cache
        baseline = median(sre_validate, empty, options.repeat)
        print(f"sre env validate over an empty folder (startup baseline): {baseline:.3f} s")
        header = f"{'requests':>8} {'validate s':>10} {'µs/req':>8}"
        header += "".join(f" {name + ' s':>10} {'µs/req':>8}" for name in measures)
        print(header)
        per_request: dict[str, dict[int, float]] = {"validate": {}, **{m: {} for m in measures}}
        for count in sizes:
            root = checkout(parent, count)
            validate_s = median(sre_validate, root, options.repeat)
            per_request["validate"][count] = max(validate_s - baseline, 0.0) / count
            row = f"{count:>8} {validate_s:>10.3f} {per_request['validate'][count] * 1e6:>8.0f}"
            for name, measure in measures.items():
                seconds = median(measure, root, options.repeat)
                per_request[name][count] = seconds / count
                row += f" {seconds:>10.3f} {per_request[name][count] * 1e6:>8.0f}"
            print(row, flush=True)
        first, last = sizes[0], sizes[-1]
        for name, by_count in per_request.items():
            print(
                f"growth of time per request, {last} vs {first} ({name}): "
                f"{by_count[last] / by_count[first]:.2f}×"
            )


if __name__ == "__main__":
    main()
