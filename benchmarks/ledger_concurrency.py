"""Benchmark: concurrent gate processes on one ledger, SQLite against DynamoDB (moto).

Starts 1, 8 and 32 real `sre gate` processes at once, each gating its own change (a
copy of examples/previews/routine-rollout.json with one tag value changed, so each has
its own digest and record), in one temporary git checkout. Each runs twice: once on the
embedded SQLite ledger (`.sre/ledger.sqlite3`, the baseline: the least a gate costs
here) and once on a DynamoDB ledger served by a moto server on loopback
(`SRE_LEDGER_URL=dynamodb://...`, `AWS_ENDPOINT_URL`). Per run it prints the throughput
(gates per second: processes / wall time of the batch) and the p50 and p95 latency of
one gate (its process's wall time), the ratio DynamoDB / SQLite, and the growth of p50
from 1 to N processes. moto answers from one Python process, so its growth shows the
cost of one shared server as much as of the protocol; the ratios, not the absolute
times, are the result.

    python3 benchmarks/ledger_concurrency.py [--sizes 1,8,32] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROLLOUT = ROOT / "examples" / "previews" / "routine-rollout.json"
REGION = "eu-west-1"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
ALWAYS_OPEN = "change_windows:\n  timezone: UTC\n  hours:\n" + "".join(
    f'    {day}: ["00:00-24:00"]\n' for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def make_project(root: Path) -> Path:
    project = root / "project"
    (project / "stacks" / "environments").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (project / "risk-policy.yaml").write_text(ALWAYS_OPEN)
    git(project, "init", "-q", "-b", "main")
    git(project, "-c", "user.email=bench@example.com", "-c", "user.name=bench", "add", "-A")
    git(
        project,
        "-c",
        "user.email=bench@example.com",
        "-c",
        "user.name=bench",
        "commit",
        "-q",
        "-m",
        "base",
    )
    return project


def previews(root: Path, count: int, run: str) -> list[Path]:
    """``count`` previews that differ in one value: one change (and digest) each."""
    document = json.loads(ROLLOUT.read_text())
    made = []
    for n in range(count):
        copy = json.loads(json.dumps(document))
        for step in copy["steps"]:
            state = step.get("newState") or {}
            if state.get("custom") and isinstance(state.get("inputs"), dict):
                state["inputs"]["tags"] = {**state["inputs"].get("tags", {}), "bench": f"{run}-{n}"}
                break
        path = root / f"preview-{run}-{n}.json"
        path.write_text(json.dumps(copy))
        made.append(path)
    return made


def batch(project: Path, files: list[Path], env: dict[str, str]) -> tuple[float, list[float]]:
    """Start one gate per preview at once; (wall time of the batch, each gate's time)."""
    command = [
        sys.executable,
        "-m",
        "change_mgmt.cli",
        "gate",
        "--project-dir",
        str(project),
        "--stack",
        "prod",
        "--format",
        "json",
        "--preview",
    ]
    start = time.perf_counter()
    running = [
        (
            time.perf_counter(),
            subprocess.Popen(
                [*command, str(f)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            ),
        )
        for f in files
    ]
    times = []
    for began, process in running:
        out, err = process.communicate(timeout=600)
        times.append(time.perf_counter() - began)
        if process.returncode not in (0, 3) or not out:
            raise SystemExit(f"a gate failed ({process.returncode}): {err.decode()[-800:]}")
    return time.perf_counter() - start, times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,32")
    parser.add_argument("--repeat", type=int, default=1, help="batches per size; the best is kept")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # moto 500s are retried
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SRE_"))}
    aws = {**AWS, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    os.environ.update(aws)
    from change_mgmt.ledger.config import parse_ledger_url
    from change_mgmt.ledger.dynamo_admin import init_table

    results: dict[tuple[str, int], tuple[float, float, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            project = make_project(root)
            for size in sizes:
                for backend in ("sqlite", "dynamodb"):
                    best: tuple[float, float, float] | None = None
                    for r in range(args.repeat):
                        run = f"{backend}-{size}-{r}"
                        env = {**base, "PYTHONDONTWRITEBYTECODE": "1"}
                        if backend == "dynamodb":
                            url = f"dynamodb://bench-{uuid.uuid4().hex[:10]}?region={REGION}"
                            init_table(parse_ledger_url(url))
                            env |= {**aws, "SRE_LEDGER_URL": url}
                        wall, times = batch(project, previews(root, size, run), env)
                        row = (size / wall, statistics.median(times), percentile(times, 0.95))
                        best = row if best is None or row[0] > best[0] else best
                    assert best is not None
                    results[(backend, size)] = best
                    print(
                        f"  {backend:<8} {size:>3} gates: {best[0]:6.2f} gates/s, "
                        f"p50 {best[1]:.2f} s, p95 {best[2]:.2f} s",
                        flush=True,
                    )
    finally:
        server.stop()

    print()
    heads = ("gates", "sqlite/s", "dynamo/s", "p50 sq", "p50 dy", "p95 sq", "p95 dy", "p50 ×")
    print("  ".join(f"{h:>8}" for h in heads))
    for size in sizes:
        sq, dy = results[("sqlite", size)], results[("dynamodb", size)]
        cells = [f"{size:>8}", *(f"{v:>8.2f}" for v in (sq[0], dy[0], sq[1], dy[1], sq[2], dy[2]))]
        print("  ".join([*cells, f"{dy[1] / sq[1]:>7.2f}×"]))
    first, last = sizes[0], sizes[-1]
    for backend in ("sqlite", "dynamodb"):
        growth = results[(backend, last)][1] / results[(backend, first)][1]
        print(f"growth of p50 latency, {last} vs {first} gates, {backend}: {growth:.2f}×")


if __name__ == "__main__":
    main()
