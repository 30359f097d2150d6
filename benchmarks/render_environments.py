"""Benchmark: cost of the TestEnvironment component under Pulumi mocks.

Renders 1, 10 and 50 full environments (own RDS + own bucket, the largest resource set)
in one program, and, in the same run, a baseline program that registers the same number
of plain resources (no component, no validation, no Output plumbing). Prints the ratio
component / baseline; the target is ≤ 1.3×.

    python3 benchmarks/render_environments.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pulumi_kubernetes as k8s

from components.test_environment import PlatformSettings, TestEnvironment, TestEnvironmentArgs
from stacks.mock_engine import run_under_mocks

PLATFORM = PlatformSettings(
    cluster="bench",
    vpc_id="vpc-0a1b2c3d4e5f60718",
    db_subnet_group="bench-db",
    db_security_group_ids=("sg-0a1b2c3d4e5f60719",),
    test_domain="bench.example.com",
    ingress_class="nginx",
    shared_db_endpoint="shared.bench.example.com",
    shared_bucket="bench-shared",
    oidc_provider_arn="arn:aws:iam::000000000000:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/B",
    tls_secret="ingress-nginx/bench-wildcard-tls",
)


def environments(count: int) -> Callable[[], None]:
    expires = datetime.now(UTC) + timedelta(days=3)

    def program() -> None:
        for i in range(count):
            TestEnvironment(
                f"bench-{i}",
                TestEnvironmentArgs(
                    name=f"bench-{i}",
                    owner="bench@example.com",
                    team="sre",
                    version="10.11.2",
                    platform=PLATFORM,
                    expires_at=expires,
                    size="1000users",
                    database="aws-rds-postgres",
                    filestore="aws-s3",
                ),
            )

    return program


def plain_resources(count: int) -> Callable[[], None]:
    def program() -> None:
        for i in range(count):
            k8s.core.v1.ConfigMap(f"plain-{i}", data={"i": str(i)})

    return program


def timed(program: Callable[[], None], repeat: int) -> tuple[float, int]:
    samples, declared = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        run = run_under_mocks(program, project="bench", stack="bench")
        samples.append(time.perf_counter() - start)
        declared = len(run.resources)
    return statistics.median(samples), declared


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per measurement (median is reported)"
    )
    options = parser.parse_args()
    timed(environments(1), 1)  # warm imports and caches before measuring
    print(f"{'envs':>5} {'resources':>9} {'component s':>12} {'baseline s':>11} {'ratio':>6}")
    for count in (1, 10, 50):
        component_s, declared = timed(environments(count), options.repeat)
        baseline_s, baseline_declared = timed(plain_resources(declared), options.repeat)
        assert baseline_declared == declared
        print(
            f"{count:>5} {declared:>9} {component_s:>12.3f} {baseline_s:>11.3f} "
            f"{component_s / baseline_s:>6.2f}"
        )


if __name__ == "__main__":
    main()
