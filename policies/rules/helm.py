"""Helm charts are installed at an exact, reviewed version.

Input names are those pulumi-kubernetes 4.x sends: ``kubernetes:helm.sh/v3:Release`` has
``chart``, ``version`` and ``repositoryOpts``; ``kubernetes:helm.sh/v4:Chart`` has
``chart``, ``version`` and ``repositoryOpts``. ``kubernetes:helm.sh/v3:Chart`` is a
client-side component: the Python SDK registers it with no inputs at all (its rendered
children are judged by the Kubernetes rules), while other SDKs may send ``chart`` or
``path``, ``version`` and ``fetchOpts.version``; a Chart without a ``chart`` input has
nothing to judge.

A chart that is a local path (``./charts/app``, ``/abs/app``, ``charts/team/app``,
``app-1.2.3.tgz``, ``file://…``) or an OCI reference with a digest
(``oci://registry/charts/app@sha256:…``) is pinned by what it names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policies.model import (
    NOT_APPLICABLE,
    Outcome,
    Resource,
    Rule,
    RuleContext,
    is_unknown,
    resource_rule,
    violations,
)

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
CHART_V3_TYPE = "kubernetes:helm.sh/v3:Chart"
CHART_V4_TYPE = "kubernetes:helm.sh/v4:Chart"
HELM_TYPES: tuple[str, ...] = (RELEASE_TYPE, CHART_V3_TYPE, CHART_V4_TYPE)

# An exact SemVer 2 version (Helm accepts a leading "v"): all three numbers, optional
# pre-release and build metadata. Anything else is a constraint Helm resolves at install
# time: "1.2" means 1.2.x, and "^1.2", "~1", ">=1", "*", "1.x", "1.2 - 1.4" are ranges.
_EXACT_VERSION = re.compile(
    r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
_OCI_DIGEST = re.compile(r"^oci://[^@\s]+@sha256:[0-9a-f]{64}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_LOCAL_PREFIXES = ("./", "../", "/", "~/", "file://")
_ARCHIVE_SUFFIXES = (".tgz", ".tar.gz")


def is_local_chart(chart: str) -> bool:
    """Whether ``chart`` names a chart on disk rather than one in a repository.

    A repository reference is ``repo/chart`` (one slash) or a bare name; a path is
    explicit (``./``, ``/``, ``file://``), an archive, or has more than one slash.
    """
    if chart.startswith(_LOCAL_PREFIXES):
        return True
    if _SCHEME.match(chart):
        return False
    return chart.endswith(_ARCHIVE_SUFFIXES) or chart.count("/") >= 2


def version_problem(version: object) -> str | None:
    """Why ``version`` does not pin a chart, or None when it is one exact version."""
    if version is None or (isinstance(version, str) and not version.strip()):
        return "has no version (Helm would install the newest one)"
    if not isinstance(version, str):
        return f"has a version {version!r} that is not a string"
    if _EXACT_VERSION.match(version.strip()):
        return None
    return f"has version {version!r}, a range rather than one exact version"


def _chart_and_version(resource: Resource) -> tuple[Any, Any, str]:
    """The chart reference, the version and the input the version belongs in."""
    inputs = resource.inputs
    if resource.type == CHART_V3_TYPE:
        chart = inputs.get("chart")
        version = inputs.get("version")
        fetch_opts = inputs.get("fetchOpts")
        if version is None and isinstance(fetch_opts, Mapping):
            return chart, fetch_opts.get("version"), "fetchOpts.version"
        return chart, version, "version"
    return inputs.get("chart"), inputs.get("version"), "version"


@resource_rule(
    "helm-chart-pinned",
    "Every Helm release or chart names one exact chart version (or a local chart or an "
    "OCI digest), so an upgrade happens only when the code says so.",
    "medium",
    "Set version to an exact chart version such as 58.2.1 (not a range like ^58 or "
    "empty), or reference the chart by digest (oci://…@sha256:…) or as a local path "
    "(./charts/app).",
)
def chart_pinned(resource: Resource, ctx: RuleContext) -> Outcome:
    if resource.type not in HELM_TYPES:
        return NOT_APPLICABLE
    if resource.type == CHART_V3_TYPE and "path" in resource.inputs and not resource.get("chart"):
        return []  # LocalChartOpts: a chart directory on disk
    chart, version, version_input = _chart_and_version(resource)
    if chart is None:
        return NOT_APPLICABLE  # v3 Chart from the Python SDK: no inputs to judge
    problem = None if _pinned_or_unknown(chart, version) else version_problem(version)
    if problem is None:
        return []
    kind = resource.type.rpartition(":")[2]
    return violations(
        [f"Helm {kind} '{resource.name}' chart {chart!r} {problem}: set {version_input}"],
        resource.urn,
    )


def _pinned_or_unknown(chart: Any, version: Any) -> bool:
    """Whether the chart reference pins itself, or the values are not known yet."""
    if is_unknown(chart) or is_unknown(version):
        return True
    return isinstance(chart, str) and (is_local_chart(chart) or bool(_OCI_DIGEST.match(chart)))


RULES: tuple[Rule, ...] = (chart_pinned,)
