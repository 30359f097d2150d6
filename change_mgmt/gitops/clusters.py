"""``gitops/clusters/<env>.yaml``: the clusters Argo CD deploys to, with their labels.

Each becomes an Argo CD cluster Secret whose ``awsAuthConfig`` makes Argo CD assume an
IAM role: there are no static credentials, and a key that looks like one (a token, a
password, a client key) is refused outright rather than reported as a typo.
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from change_mgmt.gitops.labels import Labels
from policies.naming import dns_label_problem

CLUSTER_TYPE_LABEL = "cluster-type"
CLUSTER_ID_LABEL = "cluster-id"
# Keys of a static credential in Argo CD's cluster config or a kubeconfig.
CREDENTIAL_WORDS = ("token", "password", "bearer", "secret", "keydata", "certdata", "username")
_ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_PEM_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----"
)


def _dns_label(value: str) -> str:
    problem = dns_label_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{value[:80]!r} is not an https:// URL with a host")
    return value


def _ca_data(value: str) -> str:
    """Base64 of one or more PEM certificates, as Argo CD's ``tlsClientConfig.caData``."""
    try:
        pem = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("is not base64 of PEM text (base64 -w0 ca.crt)") from None
    blocks = _PEM_CERTIFICATE.findall(pem)
    if not blocks:
        raise ValueError("decodes to no PEM certificate (-----BEGIN CERTIFICATE-----)")
    for block in blocks:
        try:
            base64.b64decode("".join(block.split()), validate=True)
        except binascii.Error:
            raise ValueError("holds a PEM certificate whose body is not base64") from None
    return value


def _role_arn(value: str) -> str:
    if not _ROLE_ARN.match(value):
        raise ValueError(
            f"{value[:80]!r} is not an IAM role ARN (arn:aws:iam::<12 digits>:role/<name>)"
        )
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]


class ClusterType(StrEnum):
    CNC = "cnc"
    CUSTOMER = "customer"


class Cluster(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DnsLabel
    type: ClusterType
    labels: Labels
    server: HttpsUrl
    """The API server URL."""
    caData: Annotated[str, AfterValidator(_ca_data)]
    eksClusterName: str = Field(min_length=1, max_length=100)
    roleArn: Annotated[str, AfterValidator(_role_arn)]
    """The IAM role Argo CD assumes to reach the cluster (awsAuthConfig.roleARN)."""


class ClustersFile(BaseModel):
    """The whole document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clusters: list[Cluster] = Field(min_length=1)
