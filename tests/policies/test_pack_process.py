"""The real pack entry point, as Pulumi starts it after ``pulumi policy publish``: the
``policies/`` directory alone, copied under another name, run as ``python <directory>``
from a foreign working directory, spoken to over its gRPC Analyzer protocol on loopback.

Not constructed in-process (``PolicyPack`` serves forever). The process cannot import
``change_mgmt``, ``components`` or ``stacks``, nor ``policies`` from anywhere but the copy
(``tests/policies/pack_site``); this proves the published pack starts, serves every rule,
and judges a resource.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policies.pack import ADVISORY_SUFFIX, PACK_NAME
from policies.rules.registry import ALL_RULES
from tests.policies.isolation import isolated_env, published_copy

pytestmark = pytest.mark.slow


@contextmanager
def serving(pack: Path, entry: str, cwd: Path) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """The pack copy at ``pack`` started as ``python <pack>/<entry>`` in ``cwd``, isolated."""
    process = subprocess.Popen(
        [sys.executable, str(pack / entry)],
        cwd=cwd,
        env=isolated_env(pack),
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


# Pulumi runs ``python <directory>``, or, in newer versions, that directory's ``__main__.py``.
@pytest.fixture(scope="module", params=["", "__main__.py"], ids=["directory", "main-file"])
def analyzer(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    pack = published_copy(tmp_path_factory.mktemp("published") / "pack")
    with serving(pack, request.param, tmp_path_factory.mktemp("elsewhere")) as stub:
        yield stub


def test_the_packs_modules_never_shadow_the_standard_library(tmp_path: Path) -> None:
    """Pulumi puts the pack's directory first on ``sys.path``; a pack module named like a
    standard one (``secrets.py`` is, and here a ``json.py`` that the SDK imports on
    start-up) must not replace it."""
    pack = published_copy(tmp_path / "pack")
    (pack / "json.py").write_text('raise SystemExit("the standard json was shadowed")\n')
    with serving(pack, "__main__.py", tmp_path) as stub:
        assert stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30).name == PACK_NAME


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
