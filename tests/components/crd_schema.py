"""Validate custom resources against the upstream CRDs in tests/data/crds, strictly.

The API server prunes fields a structural schema does not know, silently; here an
unknown field is an error (as ``kubectl apply --validate=strict`` makes it), so a
misspelt field cannot pass.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema
import yaml

from tests.conftest import REPO_ROOT

CRD_DIR = REPO_ROOT / "tests" / "data" / "crds"
MATTERMOST_CRD = "installation.mattermost.com_mattermosts.yaml"


def _strict(schema: Any) -> Any:
    """The schema with unknown properties refused wherever the CRD lists the known ones."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if (
        "properties" in strict
        and "additionalProperties" not in strict
        and not strict.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


@functools.cache
def crd_validator(file_name: str, version: str) -> jsonschema.Draft7Validator:
    crd = yaml.safe_load((CRD_DIR / file_name).read_text("utf-8"))
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return jsonschema.Draft7Validator(_strict(served["schema"]["openAPIV3Schema"]))


def crd_problems(resource: dict[str, Any], file_name: str = MATTERMOST_CRD) -> list[str]:
    """Every way ``resource`` (apiVersion, kind, metadata, spec) breaks its CRD's schema."""
    version = resource["apiVersion"].rsplit("/", 1)[-1]
    errors = crd_validator(file_name, version).iter_errors(resource)
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors)
