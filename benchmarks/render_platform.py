"""Benchmark: the ``prod`` platform stack under Pulumi mocks for 1, 10 and 50 clusters.

The real program (stacks/platform.py) with the prod stack file's config, its cluster
list replaced by one cnc cluster and N-1 customer clusters. Prints the time, the
resources declared and the resources per cluster beyond the first (the central stack
is declared once): constant per cluster means the growth is linear.

    python3 benchmarks/render_platform.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from change_mgmt.environments.render import (
    RENDER_SECRET_PLACEHOLDERS,
    project_config,
    with_secret_keys,
)
from stacks.mock_engine import run_under_mocks
from stacks.program import run_stack

PROJECT_DIR = Path(__file__).resolve().parents[1]
STACK = "prod"


def cluster(index: int) -> dict[str, Any]:
    cluster_id = "cnc-bench" if index == 0 else f"customer-bench-{index}"
    issuer = f"oidc.eks.us-east-1.amazonaws.com/id/BENCH{index}"
    return {
        "id": cluster_id,
        "type": "cnc" if index == 0 else "customer",
        "kubeContext": f"bench-{cluster_id}",
        "oidcProviderArn": f"arn:aws:iam::000000000000:oidc-provider/{issuer}",
        "oidcIssuer": issuer,
    }


def timed(count: int, repeat: int) -> tuple[float, int]:
    config = project_config(PROJECT_DIR, STACK)
    config["sre-platform:clusters"] = json.dumps([cluster(i) for i in range(count)])
    program = with_secret_keys(lambda: run_stack(PROJECT_DIR), list(RENDER_SECRET_PLACEHOLDERS))
    samples, declared = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        run = run_under_mocks(
            program, project="sre-platform", stack=STACK, config=config, preview=True
        )
        samples.append(time.perf_counter() - start)
        declared = len(run.resources)
    return statistics.median(samples), declared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    timed(1, 1)  # warm-up: the provider SDKs' first import and schema loading
    one_time, one_count = timed(1, repeat)
    header = ("clusters", "seconds", "resources", "per extra cluster", "ms/cluster")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (8, 8, 9, 17, 10), strict=True)))
    print(f"{1:>8} {one_time:>8.2f} {one_count:>9} {'-':>17} {one_time * 1000:>10.0f}")
    for count in (10, 50):
        seconds, declared = timed(count, repeat)
        per_cluster = (declared - one_count) / (count - 1)
        print(
            f"{count:>8} {seconds:>8.2f} {declared:>9} {per_cluster:>17.1f} "
            f"{seconds * 1000 / count:>10.0f}"
        )


if __name__ == "__main__":
    main()
