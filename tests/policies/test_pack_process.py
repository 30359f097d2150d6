"""The real pack entry point, as Pulumi starts it: ``policies/__main__.py`` in its own
process, spoken to over its gRPC Analyzer protocol on loopback.

Not constructed in-process (``PolicyPack`` serves forever); this proves the entry point
imports from a foreign working directory, serves every rule, and judges a resource.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.pack import ADVISORY_SUFFIX, PACK_NAME
from policies.rules import ALL_RULES

PACK_DIR = Path(__file__).resolve().parents[2] / "policies"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(
        [sys.executable, str(PACK_DIR / "__main__.py")],
        cwd=tmp_path_factory.mktemp("elsewhere"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), process.stderr.read() if process.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.kill()
        process.wait()


def test_the_pack_serves_every_rule_twice(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
    names = {policy.name for policy in info.policies}
    assert info.name == PACK_NAME
    assert names == {r.id for r in ALL_RULES} | {r.id + ADVISORY_SUFFIX for r in ALL_RULES}


def analyze(
    analyzer: analyzer_pb2_grpc.AnalyzerStub, stack: str, props: dict
) -> analyzer_pb2.AnalyzeResponse:
    properties = struct_pb2.Struct()
    properties.update(props)
    return analyzer.Analyze(
        analyzer_pb2.AnalyzeRequest(
            type="aws:kms/key:Key",
            properties=properties,
            urn=f"urn:pulumi:{stack}::sre-platform::aws:kms/key:Key::audit",
            name="audit",
            options=analyzer_pb2.AnalyzerResourceOptions(),
        ),
        timeout=30,
    )


def test_a_production_violation_is_mandatory(analyzer: analyzer_pb2_grpc.AnalyzerStub) -> None:
    tags = {"owner": "sre", "team": "sre", "environment": "prod", "managed-by": "pulumi"}
    response = analyze(analyzer, "prod", {"enableKeyRotation": False, "tags": tags})
    (diagnostic,) = response.diagnostics
    assert diagnostic.policyName == "kms-key-rotation"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    assert "enableKeyRotation" in diagnostic.message


def test_the_same_resource_in_development_is_advisory(
    analyzer: analyzer_pb2_grpc.AnalyzerStub,
) -> None:
    response = analyze(analyzer, "dev-dana", {"enableKeyRotation": True})
    assert {d.policyName for d in response.diagnostics} == {"aws-required-tags-advisory"}
    assert {d.enforcementLevel for d in response.diagnostics} == {analyzer_pb2.ADVISORY}
