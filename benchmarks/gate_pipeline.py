"""Benchmark: parse + score + digest of large `pulumi preview --json` documents.

Builds deterministic synthetic previews of a production stack (1k, 10k and 100k steps)
in the real `--json` shape (indented like the CLI prints it): components with children,
providers, old/new states with inputs, outputs, dependencies and property dependencies,
`"[secret]"` values and credential-named keys, IAM policies as JSON strings, security
groups (a few open to 0.0.0.0/0), Kubernetes workloads; mostly `same`/`update` steps
with some creates, deletes and replaces. Each document is serialised once; then, in the
same run, it times `json.loads` of that text (the baseline: the least any reader of the
document must do) and the gate pipeline on the same text:

    changeset = parse_preview_json(text, stack="prod")   # parse, redact, digest
    assess(changeset, default_policy(), AssessmentContext(now=NOW))

and prints the ratio pipeline / json.loads (the target is ≤ 3× at 10k steps, growing
linearly) and the time per step (best of a few runs, each after a full collection; the
garbage collector stays on, as in real use, unless --no-gc). Peak memory is measured per
size in fresh subprocesses that read the text from a file: the resident size holding the
text, then the peak above it during `json.loads` and, in another process, during the
pipeline.

    python3 benchmarks/gate_pipeline.py [--sizes 1000,10000,100000] [--quick] [--no-gc]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from change_mgmt.preview import ChangeSet, parse_preview_json  # noqa: E402
from change_mgmt.risk.assess import AssessmentContext, RiskAssessment, assess  # noqa: E402
from change_mgmt.risk.policy import default_policy  # noqa: E402

NOW = datetime(2025, 3, 12, 10, 30, tzinfo=UTC)  # a Wednesday, inside the change window
T = TypeVar("T")
STACK = "prod"
PROJECT = "sre-platform"
SEED = 20250312
ACCOUNT = 123456789012
REGION = "eu-central-1"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown-value sentinel
STEP_INDENT = " " * 8

# -- synthetic previews ------------------------------------------------------------------


def urn_of(qualified_type: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified_type}::{name}"


ROOT_URN = urn_of("pulumi:pulumi:Stack", f"{PROJECT}-{STACK}")
AWS_PROVIDER = urn_of("pulumi:providers:aws", "default_7_3_0") + "::9b1e6c3e-5f0a-4d7e-9a57-2c1d"
K8S_PROVIDER = urn_of("pulumi:providers:kubernetes", "eks-prod") + "::0c5f2a71-8e3b-4b69-a1d2-7f40"


@dataclass
class Resource:
    """One resource of the synthetic stack, before an op is chosen for it."""

    type: str
    name: str
    urn: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    parent: str
    provider: str | None
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # (input key, new value, replaces?) choices an update or replace draws from.
    mutations: list[tuple[str, Any, bool]] = field(default_factory=list)


def _tags(rng: random.Random, env: str) -> dict[str, str]:
    return {
        "owner": rng.choice(["sre@example.com", "backend@example.com", "search@example.com"]),
        "team": rng.choice(["sre", "backend", "search", "mobile"]),
        "managed-by": "pulumi",
        "component": env,
    }


def _arn(service: str, path: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{path}"


def _policy_json(actions: list[str], resources: list[str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": resources},
                {
                    "Effect": "Deny",
                    "Action": "s3:DeleteBucket",
                    "Resource": resources[0],
                },
            ],
        },
        separators=(",", ":"),
    )


def _aws_outputs(inputs: dict[str, Any], ident: str, arn: str, **extra: Any) -> dict[str, Any]:
    outputs = dict(inputs)
    outputs.pop("__defaults", None)
    outputs.update(id=ident, arn=arn, tagsAll=inputs.get("tags", {}), region=REGION, **extra)
    return outputs


def _k8s_outputs(rng: random.Random, inputs: dict[str, Any], kind: str) -> dict[str, Any]:
    metadata = dict(inputs["metadata"])
    metadata.update(
        uid=f"{rng.getrandbits(64):016x}-{rng.getrandbits(32):08x}",
        resourceVersion=str(rng.randint(10**6, 10**8)),
        creationTimestamp=f"2024-11-0{rng.randint(1, 9)}T08:1{rng.randint(0, 9)}:00Z",
        generation=rng.randint(1, 40),
        managedFields=[
            {
                "apiVersion": inputs["apiVersion"],
                "fieldsType": "FieldsV1",
                "manager": "pulumi-kubernetes-7f4e2c1",
                "operation": "Apply",
                "time": f"2025-02-1{rng.randint(0, 9)}T11:0{rng.randint(0, 9)}:00Z",
            }
        ],
    )
    outputs = {**inputs, "kind": kind, "metadata": metadata}
    outputs.pop("__defaults", None)
    return outputs


def _metadata(name: str, namespace: str, app: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {
            "app.kubernetes.io/name": app,
            "app.kubernetes.io/managed-by": "pulumi",
            "app.kubernetes.io/part-of": "mattermost",
        },
        "annotations": {"pulumi.com/skipAwait": "false"},
    }


Builder = Callable[[random.Random, str, str], tuple[dict, dict, list]]


def s3_bucket(rng: random.Random, name: str, env: str) -> tuple:
    bucket = f"cloud-{env}-{name}"
    inputs = {
        "__defaults": ["acl"],
        "bucket": bucket,
        "forceDestroy": False,
        "tags": _tags(rng, env),
    }
    outputs = _aws_outputs(
        inputs,
        bucket,
        f"arn:aws:s3:::{bucket}",
        bucketDomainName=f"{bucket}.s3.amazonaws.com",
        bucketRegionalDomainName=f"{bucket}.s3.{REGION}.amazonaws.com",
        hostedZoneId="Z21DNDUVLTQW6Q",
        requestPayer="BucketOwner",
        serverSideEncryptionConfigurations=[
            {
                "rules": [
                    {
                        "applyServerSideEncryptionByDefaults": [
                            {"kmsMasterKeyId": "", "sseAlgorithm": "AES256"}
                        ],
                        "bucketKeyEnabled": False,
                    }
                ]
            }
        ],
        versionings=[{"enabled": True, "mfaDelete": False}],
        grants=[],
        corsRules=[],
        lifecycleRules=[],
    )
    mutations = [
        ("tags", {**inputs["tags"], "team": "platform"}, False),
        ("forceDestroy", True, False),
        ("bucket", bucket + "-v2", True),
    ]
    return inputs, outputs, mutations


def s3_bucket_policy(rng: random.Random, name: str, env: str) -> tuple:
    bucket = f"cloud-{env}-{name}"
    resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    inputs = {
        "bucket": bucket,
        "policy": _policy_json(["s3:GetObject", "s3:PutObject", "s3:ListBucket"], resources),
    }
    outputs = _aws_outputs(inputs, bucket, "")
    actions = ["s3:*"] if rng.random() < 0.03 else ["s3:GetObject", "s3:ListBucket"]
    return inputs, outputs, [("policy", _policy_json(actions, resources), False)]


def rds_instance(rng: random.Random, name: str, env: str) -> tuple:
    ident = f"{env}-{name}"
    version = rng.choice(["15.7", "16.3", "16.4"])
    inputs = {
        "__defaults": ["applyImmediately", "copyTagsToSnapshot"],
        "identifier": ident,
        "engine": "postgres",
        "engineVersion": version,
        "instanceClass": rng.choice(["db.t4g.medium", "db.r6g.large", "db.r6g.xlarge"]),
        "allocatedStorage": rng.choice([20, 50, 100, 400]),
        "storageType": "gp3",
        "storageEncrypted": True,
        "kmsKeyId": _arn("kms", "key/1f0e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"),
        "username": "mattermost",
        "password": "[secret]",
        "manageMasterUserPassword": False,
        "dbSubnetGroupName": "prod-db",
        "vpcSecurityGroupIds": ["sg-0a1b2c3d4e5f60718"],
        "backupRetentionPeriod": 14,
        "deletionProtection": True,
        "skipFinalSnapshot": False,
        "tags": _tags(rng, env),
    }
    outputs = _aws_outputs(
        inputs,
        f"db-{rng.getrandbits(80):020X}",
        _arn("rds", f"db:{ident}"),
        address=f"{ident}.c9akciq32.{REGION}.rds.amazonaws.com",
        endpoint=f"{ident}.c9akciq32.{REGION}.rds.amazonaws.com:5432",
        port=5432,
        hostedZoneId="Z1RLNUO7B9Q6NB",
        availabilityZone=f"{REGION}a",
        status="available",
        latestRestorableTime="2025-03-12T09:55:00Z",
        caCertIdentifier="rds-ca-rsa2048-g1",
        maintenanceWindow="sun:03:00-sun:04:00",
        backupWindow="01:00-02:00",
    )
    major = str(int(version.split(".")[0]) + 1)
    mutations = [
        ("allocatedStorage", inputs["allocatedStorage"] * 2, False),
        ("instanceClass", "db.r6g.2xlarge", False),
        ("engineVersion", version.split(".")[0] + ".9", False),
        ("engineVersion", major + ".1", True),
    ]
    return inputs, outputs, mutations


def iam_role(rng: random.Random, name: str, env: str) -> tuple:
    role = f"{env}-{name}"
    subject = f"system:serviceaccount:{env}:{name}"
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Principal": {
                        "Federated": _arn("iam", "oidc-provider/oidc.eks.amazonaws.com/id/B3")
                    },
                    "Condition": {"StringEquals": {"oidc.eks.amazonaws.com/id/B3:sub": subject}},
                }
            ],
        },
        separators=(",", ":"),
    )
    inputs = {
        "__defaults": ["forceDetachPolicies", "maxSessionDuration", "path"],
        "name": role,
        "assumeRolePolicy": trust,
        "forceDetachPolicies": False,
        "maxSessionDuration": 3600,
        "path": "/",
        "tags": _tags(rng, env),
    }
    outputs = _aws_outputs(
        inputs,
        role,
        f"arn:aws:iam::{ACCOUNT}:role/{role}",
        createDate="2024-06-01T10:00:00Z",
        uniqueId=f"AROA{rng.getrandbits(64):016X}",
        managedPolicyArns=[],
        inlinePolicies=[],
    )
    return inputs, outputs, [("maxSessionDuration", 7200, False), ("name", role + "-2", True)]


def iam_policy(rng: random.Random, name: str, env: str) -> tuple:
    bucket = f"cloud-{env}-data"
    resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    inputs = {
        "name": f"{env}-{name}",
        "path": "/",
        "description": f"Access of {env} to its bucket",
        "policy": _policy_json(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], resources),
        "tags": _tags(rng, env),
    }
    outputs = _aws_outputs(
        inputs,
        f"arn:aws:iam::{ACCOUNT}:policy/{env}-{name}",
        f"arn:aws:iam::{ACCOUNT}:policy/{env}-{name}",
        policyId=f"ANPA{rng.getrandbits(64):016X}",
        attachmentCount=1,
    )
    more = _policy_json(
        ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"], resources
    )
    mutations = [("policy", more, False), ("policy", more, False)]
    if rng.random() < 0.1:
        mutations.append(("policy", _policy_json(["s3:*"], resources), False))
    return inputs, outputs, mutations


def role_policy_attachment(rng: random.Random, name: str, env: str) -> tuple:
    inputs = {
        "role": f"{env}-irsa",
        "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/{env}-data-access",
    }
    outputs = _aws_outputs(inputs, f"{env}-{name}-{rng.getrandbits(40):010x}", "")
    return inputs, outputs, [("policyArn", inputs["policyArn"] + "-v2", True)]


def _sg_rule(cidr: str, port: int, description: str) -> dict[str, Any]:
    return {
        "__defaults": ["self"],
        "cidrBlocks": [cidr],
        "description": description,
        "fromPort": port,
        "protocol": "tcp",
        "self": False,
        "toPort": port,
    }


def security_group(rng: random.Random, name: str, env: str) -> tuple:
    public = name.startswith("lb") and rng.random() < 0.3
    ingress = [
        _sg_rule("10.0.0.0/8", 5432, "Postgres from the VPC"),
        _sg_rule("10.20.0.0/16", 8065, "Mattermost from the cluster"),
    ]
    if public:
        ingress.append(_sg_rule("0.0.0.0/0", 443, "HTTPS from anywhere"))
    inputs = {
        "__defaults": ["revokeRulesOnDelete"],
        "name": f"{env}-{name}",
        "description": f"{name} of {env}",
        "vpcId": "vpc-0c3746ba6421a6e21",
        "ingress": ingress,
        "egress": [
            {
                "cidrBlocks": ["0.0.0.0/0"],
                "fromPort": 0,
                "protocol": "-1",
                "self": False,
                "toPort": 0,
            }
        ],
        "revokeRulesOnDelete": False,
        "tags": _tags(rng, env),
    }
    sg_id = f"sg-{rng.getrandbits(68):017x}"
    outputs = _aws_outputs(
        inputs, sg_id, _arn("ec2", f"security-group/{sg_id}"), ownerId=str(ACCOUNT)
    )
    opened = [*ingress, _sg_rule("0.0.0.0/0", 80, "HTTP from anywhere")]
    mutations = [
        ("ingress", [*ingress, _sg_rule("10.30.0.0/16", 9090, "Prometheus")], False),
        ("ingress", opened if rng.random() < 0.05 else ingress[:1], False),
        ("description", f"{name} of {env} (managed)", True),
    ]
    return inputs, outputs, mutations


def lambda_function(rng: random.Random, name: str, env: str) -> tuple:
    fn = f"{env}-{name}"
    inputs = {
        "__defaults": ["publish"],
        "name": fn,
        "role": f"arn:aws:iam::{ACCOUNT}:role/{env}-lambda",
        "runtime": "python3.12",
        "handler": "handler.main",
        "memorySize": 256,
        "timeout": 30,
        "s3Bucket": f"cloud-{env}-artifacts",
        "s3Key": f"{name}/{rng.getrandbits(40):010x}.zip",
        "environment": {
            "variables": {
                "LOG_LEVEL": "info",
                "SLACK_WEBHOOK_TOKEN": "[secret]",
                "ALERT_CHANNEL": "#sre-alerts",
                "apiKey": f"k-{rng.getrandbits(64):016x}",  # a credential key, plain value
            }
        },
        "tags": _tags(rng, env),
    }
    outputs = _aws_outputs(
        inputs,
        fn,
        _arn("lambda", f"function:{fn}"),
        invokeArn=f"arn:aws:apigateway:{REGION}:lambda:path/functions/{fn}/invocations",
        lastModified="2025-02-20T12:00:00.000+0000",
        qualifiedArn=_arn("lambda", f"function:{fn}:7"),
        version="7",
        sourceCodeHash=f"{rng.getrandbits(256):064x}",
        sourceCodeSize=rng.randint(10_000, 4_000_000),
    )
    return inputs, outputs, [("s3Key", f"{name}/{rng.getrandbits(40):010x}.zip", False)]


def metric_alarm(rng: random.Random, name: str, env: str) -> tuple:
    inputs = {
        "name": f"{env}-{name}",
        "comparisonOperator": "GreaterThanThreshold",
        "evaluationPeriods": 3,
        "metricName": rng.choice(["CPUUtilization", "FreeStorageSpace", "5XXError"]),
        "namespace": "AWS/RDS",
        "period": 300,
        "statistic": "Average",
        "threshold": rng.choice([80, 90, 1_000_000_000]),
        "alarmActions": [_arn("sns", "sre-pager")],
        "dimensions": {"DBInstanceIdentifier": f"{env}-db"},
        "tags": _tags(rng, env),
    }
    outputs = _aws_outputs(inputs, f"{env}-{name}", _arn("cloudwatch", f"alarm:{env}-{name}"))
    return inputs, outputs, [("threshold", 95, False), ("evaluationPeriods", 5, False)]


def k8s_namespace(rng: random.Random, name: str, env: str) -> tuple:
    inputs = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": env, "labels": {"team": "sre", "expires-at": "2025-04-01"}},
    }
    outputs = _k8s_outputs(rng, inputs, "Namespace")
    outputs["status"] = {"phase": "Active"}
    return inputs, outputs, [("metadata", {**inputs["metadata"], "labels": {"team": "sre"}}, False)]


def k8s_configmap(rng: random.Random, name: str, env: str) -> tuple:
    datasource = (
        "apiVersion: 1\ndatasources:\n  - name: Thanos\n    type: prometheus\n"
        "    url: http://thanos-query.prometheus.svc:9090\n    jsonData:\n"
        "      timeInterval: 30s\n  - name: Loki\n    type: loki\n"
        "    url: http://loki-gateway.loki.svc\n"
    )
    data = {
        "datasources.yaml": datasource,
        "LOG_LEVEL": "info",
        "FEATURE_FLAGS": "threads,playbooks,calls",
        "SITE_URL": f"https://{env}.chat.example.com",
    }
    if rng.random() < 0.02:  # a connection string with a password that slipped in
        data["MM_SQLSETTINGS_DATASOURCE"] = "postgres://mmuser:Sup3rS3cret@db.internal:5432/mm"
    inputs = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(name, env, "mattermost"),
        "data": data,
    }
    outputs = _k8s_outputs(rng, inputs, "ConfigMap")
    changed = {**data, "LOG_LEVEL": "debug"}
    return inputs, outputs, [("data", changed, False)]


def k8s_secret(rng: random.Random, name: str, env: str) -> tuple:
    inputs = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(name, env, "mattermost"),
        "type": "Opaque",
        "stringData": "[secret]",
    }
    outputs = _k8s_outputs(rng, inputs, "Secret")
    outputs["data"] = "[secret]"
    return inputs, outputs, [("stringData", "[secret]", False)]


def k8s_service_account(rng: random.Random, name: str, env: str) -> tuple:
    metadata = _metadata(name, env, "mattermost")
    metadata["annotations"] = {
        "eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT}:role/{env}-irsa"
    }
    inputs = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}
    outputs = _k8s_outputs(rng, inputs, "ServiceAccount")
    return inputs, outputs, [("automountServiceAccountToken", False, False)]


def k8s_service(rng: random.Random, name: str, env: str) -> tuple:
    inputs = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, env, "mattermost"),
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": "mattermost"},
            "ports": [
                {"name": "http", "port": 8065, "targetPort": 8065, "protocol": "TCP"},
                {"name": "metrics", "port": 8067, "targetPort": 8067, "protocol": "TCP"},
            ],
        },
    }
    outputs = _k8s_outputs(rng, inputs, "Service")
    outputs["spec"] = {
        **inputs["spec"],
        "clusterIP": f"172.20.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        "clusterIPs": ["172.20.0.1"],
        "ipFamilies": ["IPv4"],
        "sessionAffinity": "None",
    }
    outputs["status"] = {"loadBalancer": {}}
    return inputs, outputs, [("spec", {**inputs["spec"], "type": "NodePort"}, False)]


def k8s_deployment(rng: random.Random, name: str, env: str) -> tuple:
    version = f"10.{rng.randint(0, 11)}.{rng.randint(0, 5)}"
    container = {
        "name": "mattermost",
        "image": f"mattermost/mattermost-enterprise-edition:{version}",
        "ports": [{"containerPort": 8065, "name": "http"}, {"containerPort": 8067}],
        "env": [
            {"name": "MM_CONFIG", "valueFrom": {"secretKeyRef": {"name": "mm-db", "key": "dsn"}}},
            {"name": "MM_SERVICESETTINGS_SITEURL", "value": f"https://{env}.chat.example.com"},
            {"name": "MM_LOGSETTINGS_CONSOLELEVEL", "value": "INFO"},
        ],
        "resources": {
            "requests": {"cpu": "150m", "memory": "256Mi"},
            "limits": {"memory": "2Gi"},
        },
        "readinessProbe": {"httpGet": {"path": "/api/v4/system/ping", "port": 8065}},
    }
    labels = {"app.kubernetes.io/name": "mattermost", "app.kubernetes.io/instance": env}
    spec = {
        "replicas": rng.choice([1, 2, 3]),
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"serviceAccountName": "mattermost", "containers": [container]},
        },
    }
    inputs = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, env, "mattermost"),
        "spec": spec,
    }
    outputs = _k8s_outputs(rng, inputs, "Deployment")
    outputs["status"] = {
        "availableReplicas": spec["replicas"],
        "readyReplicas": spec["replicas"],
        "observedGeneration": 12,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "lastTransitionTime": "2025-02-01T10:00:00Z",
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "lastTransitionTime": "2025-02-01T09:58:00Z",
            },
        ],
    }
    bumped = json.loads(json.dumps(spec))
    bumped["template"]["spec"]["containers"][0]["image"] = (
        f"mattermost/mattermost-enterprise-edition:10.{rng.randint(0, 11)}.9"
    )
    return inputs, outputs, [("spec", bumped, False), ("spec", {**spec, "replicas": 4}, False)]


def k8s_network_policy(rng: random.Random, name: str, env: str) -> tuple:
    inputs = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(name, env, "mattermost"),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"name": "prometheus"}}}],
                    "ports": [{"port": 8067, "protocol": "TCP"}],
                }
            ],
            "egress": [
                {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}
            ],
        },
    }
    outputs = _k8s_outputs(rng, inputs, "NetworkPolicy")
    return inputs, outputs, [("spec", {**inputs["spec"], "policyTypes": ["Ingress"]}, False)]


def helm_release(rng: random.Random, name: str, env: str) -> tuple:
    chart, repo = rng.choice(
        [
            ("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts"),
            ("thanos", "https://charts.bitnami.com/bitnami"),
            ("ingress-nginx", "https://kubernetes.github.io/ingress-nginx"),
            ("velero", "https://vmware-tanzu.github.io/helm-charts"),
        ]
    )
    version = f"{rng.randint(4, 60)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    inputs = {
        "__defaults": ["atomic", "cleanupOnFail", "createNamespace"],
        "chart": chart,
        "version": version,
        "namespace": chart.split("-")[0],
        "repositoryOpts": {"repo": repo},
        "values": {
            "grafana": {"adminPassword": "[secret]", "enabled": chart == "kube-prometheus-stack"},
            "objstoreConfig": {"type": "s3", "config": {"bucket": f"cloud-{env}-metrics"}},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
            "serviceMonitor": {"enabled": True, "interval": "30s"},
        },
        "atomic": False,
        "cleanupOnFail": False,
        "createNamespace": False,
    }
    outputs = dict(inputs)
    outputs["status"] = {
        "name": f"{name}-{rng.getrandbits(32):08x}",
        "namespace": inputs["namespace"],
        "chart": chart,
        "version": version,
        "appVersion": f"v{rng.randint(0, 3)}.{rng.randint(0, 80)}.0",
        "revision": rng.randint(1, 60),
        "status": "deployed",
    }
    outputs["manifest"] = {
        "resources": rng.randint(10, 300),
        "hash": f"{rng.getrandbits(128):032x}",
    }
    upgraded = f"{rng.randint(4, 60)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    return inputs, outputs, [("version", upgraded, False)]


def random_password(rng: random.Random, name: str, env: str) -> tuple:
    inputs = {"length": 32, "special": False, "keepers": {"rotation": "2025-q1"}}
    outputs = {**inputs, "result": "[secret]", "bcryptHash": "[secret]", "id": "none"}
    return inputs, outputs, [("keepers", {"rotation": "2025-q2"}, True)]


# A component type and its children: (role, child type, builder, what it depends on).
BLUEPRINTS: list[tuple[str, list[tuple[str, str, Builder, list[str]]]]] = [
    (
        "sre:env:TestEnvironment",
        [
            ("password", "random:index/randomPassword:RandomPassword", random_password, []),
            ("sg", "aws:ec2/securityGroup:SecurityGroup", security_group, []),
            ("db", "aws:rds/instance:Instance", rds_instance, ["sg", "password"]),
            ("data", "aws:s3/bucketV2:BucketV2", s3_bucket, []),
            ("data-policy", "aws:s3/bucketPolicy:BucketPolicy", s3_bucket_policy, ["data"]),
            ("irsa", "aws:iam/role:Role", iam_role, []),
            ("data-access", "aws:iam/policy:Policy", iam_policy, ["data"]),
            (
                "attach",
                "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                role_policy_attachment,
                ["irsa", "data-access"],
            ),
            ("ns", "kubernetes:core/v1:Namespace", k8s_namespace, []),
            ("sa", "kubernetes:core/v1:ServiceAccount", k8s_service_account, ["ns", "irsa"]),
            ("db-secret", "kubernetes:core/v1:Secret", k8s_secret, ["ns", "db"]),
            ("config", "kubernetes:core/v1:ConfigMap", k8s_configmap, ["ns"]),
            (
                "app",
                "kubernetes:apps/v1:Deployment",
                k8s_deployment,
                ["ns", "sa", "db-secret", "config"],
            ),
            ("svc", "kubernetes:core/v1:Service", k8s_service, ["ns", "app"]),
            (
                "deny-others",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                k8s_network_policy,
                ["ns"],
            ),
            (
                "allow-prometheus",
                "kubernetes:networking.k8s.io/v1:NetworkPolicy",
                k8s_network_policy,
                ["ns"],
            ),
        ],
    ),
    (
        "sre:observability:Stack",
        [
            ("metrics", "aws:s3/bucketV2:BucketV2", s3_bucket, []),
            ("metrics-policy", "aws:s3/bucketPolicy:BucketPolicy", s3_bucket_policy, ["metrics"]),
            ("thanos-role", "aws:iam/role:Role", iam_role, []),
            ("thanos-access", "aws:iam/policy:Policy", iam_policy, ["metrics"]),
            ("prometheus", "kubernetes:helm.sh/v3:Release", helm_release, ["thanos-role"]),
            ("thanos", "kubernetes:helm.sh/v3:Release", helm_release, ["metrics", "thanos-role"]),
            ("grafana-db", "aws:rds/instance:Instance", rds_instance, []),
            ("cpu-alarm", "aws:cloudwatch/metricAlarm:MetricAlarm", metric_alarm, ["grafana-db"]),
            ("disk-alarm", "aws:cloudwatch/metricAlarm:MetricAlarm", metric_alarm, ["grafana-db"]),
            ("dashboards", "kubernetes:core/v1:ConfigMap", k8s_configmap, ["prometheus"]),
        ],
    ),
    (
        "sre:network:Edge",
        [
            ("lb-sg", "aws:ec2/securityGroup:SecurityGroup", security_group, []),
            ("lb-sg-internal", "aws:ec2/securityGroup:SecurityGroup", security_group, []),
            ("ingress", "kubernetes:helm.sh/v3:Release", helm_release, ["lb-sg"]),
            ("notifier", "aws:lambda/function:Function", lambda_function, []),
            (
                "notifier-alarm",
                "aws:cloudwatch/metricAlarm:MetricAlarm",
                metric_alarm,
                ["notifier"],
            ),
        ],
    ),
]


BLUEPRINT_WEIGHTS = (6, 2, 1)


def eks_cluster(rng: random.Random, name: str, env: str) -> tuple:
    inputs = {
        "name": "prod-eks",
        "version": "1.30",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/prod-eks-cluster",
        "vpcConfig": {
            "subnetIds": [f"subnet-{i:017x}" for i in range(3)],
            "endpointPrivateAccess": True,
            "endpointPublicAccess": False,
        },
        "enabledClusterLogTypes": ["api", "audit", "authenticator"],
        "tags": _tags(rng, env),
    }
    outputs = _aws_outputs(
        inputs,
        "prod-eks",
        _arn("eks", "cluster/prod-eks"),
        endpoint="https://B3D2C1A0.gr7.eu-central-1.eks.amazonaws.com",
        platformVersion="eks.8",
        status="ACTIVE",
        certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t" * 4},
        identities=[{"oidcs": [{"issuer": "https://oidc.eks.amazonaws.com/id/B3"}]}],
    )
    return inputs, outputs, [("version", "1.31", False)]


# The shared platform: hubs that every test environment depends on.
PLATFORM: list[tuple[str, str, Builder, list[str]]] = [
    ("cluster", "aws:eks/cluster:Cluster", eks_cluster, []),
    ("db-sg", "aws:ec2/securityGroup:SecurityGroup", security_group, []),
]


@dataclass
class _Stack:
    """Builds resources component by component; hubs are shared by all components."""

    rng: random.Random
    hubs: dict[str, str] = field(default_factory=dict)

    def component(
        self,
        component_type: str,
        env: str,
        children: list[tuple[str, str, Builder, list[str]]],
    ) -> list[Resource]:
        component_urn = urn_of(component_type, env)
        resources = [
            Resource(component_type, env, component_urn, False, {}, {"name": env}, ROOT_URN, None)
        ]
        urns: dict[str, str] = {}
        for role, type_token, build, needs in children:
            name = f"{env}-{role}"
            inputs, outputs, mutations = build(self.rng, role, env)
            urns[role] = child_urn = urn_of(f"{component_type}${type_token}", name)
            dependencies = [urns[need] for need in needs if need in urns]
            if role == "ns" and "cluster" in self.hubs:
                dependencies.append(self.hubs["cluster"])
            if role == "db" and "db-sg" in self.hubs:
                dependencies.append(self.hubs["db-sg"])
            keys = [key for key in inputs if key != "__defaults"]
            property_dependencies: dict[str, list[str]] = {key: [] for key in keys}
            for dependency in dependencies:
                property_dependencies[self.rng.choice(keys)].append(dependency)
            resources.append(
                Resource(
                    type=type_token,
                    name=name,
                    urn=child_urn,
                    custom=True,
                    inputs=inputs,
                    outputs=outputs,
                    parent=component_urn,
                    provider=K8S_PROVIDER if type_token.startswith("kubernetes:") else AWS_PROVIDER,
                    dependencies=dependencies,
                    property_dependencies=property_dependencies,
                    mutations=mutations,
                )
            )
        return resources

    def resources(self) -> Iterator[Resource]:
        yield Resource(
            "pulumi:pulumi:Stack",
            f"{PROJECT}-{STACK}",
            ROOT_URN,
            False,
            {},
            {"kubeconfig": "[secret]", "clusterName": "prod-eks"},
            "",
            None,
        )
        for provider, inputs in (
            (AWS_PROVIDER, {"region": REGION, "version": "7.3.0"}),
            (K8S_PROVIDER, {"kubeconfig": "[secret]", "version": "4.21.1"}),
        ):
            urn, ident = provider.rsplit("::", 1)
            _, type_token, name = urn.rsplit("::", 2)
            outputs = {**inputs, "id": ident}
            yield Resource(type_token, name, urn, True, inputs, outputs, ROOT_URN, None)
        platform = self.component("sre:platform:Cluster", "prod", PLATFORM)
        self.hubs = {r.name.removeprefix("prod-"): r.urn for r in platform[1:]}
        yield from platform
        for index in itertools.count():
            component_type, children = self.rng.choices(BLUEPRINTS, weights=BLUEPRINT_WEIGHTS)[0]
            env = f"{component_type.rsplit(':', 1)[-1].lower()}-{index:05d}"
            yield from self.component(component_type, env, children)


def _state(
    resource: Resource, inputs: dict[str, Any], outputs: dict[str, Any] | None, rng: random.Random
) -> dict[str, Any]:
    state: dict[str, Any] = {"urn": resource.urn, "custom": resource.custom}
    if resource.custom and outputs is not None:
        state["id"] = str(outputs.get("id", resource.name))
    state["type"] = resource.type
    state["inputs"] = inputs
    if outputs is not None:
        state["outputs"] = outputs
    if resource.parent:
        state["parent"] = resource.parent
    if resource.provider:
        state["provider"] = resource.provider
    if resource.dependencies:
        state["dependencies"] = resource.dependencies
    state["propertyDependencies"] = resource.property_dependencies
    state["created"] = f"2024-11-0{rng.randint(1, 9)}T08:1{rng.randint(0, 9)}:44.123456Z"
    state["modified"] = f"2025-02-1{rng.randint(0, 9)}T11:0{rng.randint(0, 9)}:02.654321Z"
    module = resource.type.split(":")[1].split("/")[0]
    state["sourcePosition"] = f"project:///components/{module}.py#{rng.randint(20, 400)},9"
    return state


HUB_URNS = frozenset(
    urn_of(f"sre:platform:Cluster${type_token}", f"prod-{role}")
    for role, type_token, _, _ in PLATFORM
)
OPS = ("same", "update", "create", "delete", "replace")
OP_WEIGHTS = (62, 28, 5, 2.5, 2.5)


def _step(resource: Resource, rng: random.Random) -> dict[str, Any]:
    if not resource.custom or not resource.mutations:
        op = "same"
    elif resource.urn in HUB_URNS:
        op = "update"  # hubs always change, so the blast radius has real work to do
    else:
        op = rng.choices(OPS, weights=OP_WEIGHTS)[0]
    step: dict[str, Any] = {"op": op, "urn": resource.urn}
    if resource.provider:
        step["provider"] = resource.provider
    if op == "create":
        step["newState"] = _state(resource, resource.inputs, None, rng)
        step["detailedDiff"] = None
        return step
    step["oldState"] = old = _state(resource, resource.inputs, resource.outputs, rng)
    if op == "delete":
        step["detailedDiff"] = None
        return step
    if op == "same":
        step["newState"] = old
        step["detailedDiff"] = None
        return step
    replacing = op == "replace"
    choices = [m for m in resource.mutations if m[2] == replacing] or resource.mutations
    key, value, _ = rng.choice(choices)
    outputs = {**resource.outputs, key: value}
    if replacing:  # what the new resource will be is unknown until it exists
        outputs.update({name: UNKNOWN for name in ("id", "arn") if name in outputs})
    new = _state(resource, {**resource.inputs, key: value}, outputs, rng)
    step["newState"] = new
    step["diffReasons"] = [key]
    if replacing:
        step["replaceReasons"] = [key]
    kind = "update-replace" if replacing else ("update" if key in resource.inputs else "add")
    step["detailedDiff"] = {key: {"kind": kind, "inputDiff": True}}
    return step


def synthetic_preview(steps: int, seed: int = SEED) -> str:
    """The `pulumi preview --json` text of a production stack with exactly ``steps`` steps.

    Serialised step by step, indented as the CLI prints it, so that building it needs
    little more memory than the text itself.
    """
    rng = random.Random(seed)
    chunks: list[str] = []
    summary: Counter[str] = Counter()
    for item in itertools.islice(_Stack(rng).resources(), steps):
        step = _step(item, rng)
        summary[step["op"]] += 1
        chunks.append(json.dumps(step, indent=4).replace("\n", "\n" + STEP_INDENT))
    document = {
        "config": {"aws:region": REGION, "sre-platform:dbPassword": "[secret]"},
        "steps": ["<steps>"],
        "duration": 95_123_456_789,
        "changeSummary": dict(summary),
    }
    head, tail = json.dumps(document, indent=4).split('"<steps>"')
    return head + (",\n" + STEP_INDENT).join(chunks) + tail + "\n"


# -- measuring ---------------------------------------------------------------------------


def pipeline(text: str) -> tuple[ChangeSet, RiskAssessment]:
    """What the gate does with a preview: parse (redact, digest), then score."""
    changeset = parse_preview_json(text, stack=STACK)
    assert len(changeset.digest) == 64
    return changeset, assess(changeset, default_policy(), AssessmentContext(now=NOW))


def best_of(function: Callable[[], T], repeat: int, *, collector: bool = True) -> tuple[float, T]:
    """The fastest of ``repeat`` runs, each after a full collection, and the last result."""
    samples = []
    for _ in range(repeat):
        result = None  # free the previous result before, not during, the next run
        gc.collect()
        if not collector:
            gc.disable()
        try:
            start = time.perf_counter()
            result = function()
            samples.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(samples), result  # type: ignore[return-value]


def _proc_status_mb(field: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process image, in MiB.

    ``ru_maxrss`` of a child started by ``subprocess`` starts at the parent's peak (the
    kernel carries it over at exec), which would hide the child's own peak; Linux's
    ``VmHWM`` is the same high-water mark for this process image alone. Elsewhere fall
    back to ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    peak = _proc_status_mb("VmHWM")
    if peak is not None:
        return peak
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def reset_peak_rss() -> None:
    """Start the high-water mark again from the current RSS (Linux; else a no-op)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass


def measure_memory(path: Path, what: str) -> dict[str, float]:
    """In this (fresh) process: RSS once the text is read, and the peak during ``what``.

    The transient peak of reading the file (bytes and text at once) is left out, so that
    the peak is the decoded document (``loads``) or everything the pipeline holds.
    """
    text = path.read_text(encoding="utf-8")
    gc.collect()
    reset_peak_rss()
    measured = {"text": peak_rss_mb()}
    result: object = json.loads(text) if what == "loads" else pipeline(text)
    measured[what] = peak_rss_mb()
    del result
    return measured


def memory_in_subprocess(path: Path, what: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--measure-memory", what, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", help="comma-separated step counts (default 1000,10000,100000)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1000 and 10000 steps, one repeat each"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory subprocesses"
    )
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="time both sides with the cyclic garbage collector off (the work without it)",
    )
    parser.add_argument("--measure-memory", nargs=2, help=argparse.SUPPRESS)  # what, file
    options = parser.parse_args()
    if options.measure_memory:
        what, path = options.measure_memory
        print(json.dumps(measure_memory(Path(path), what)))
        return
    default = "1000,10000" if options.quick else "1000,10000,100000"
    sizes = [int(size) for size in (options.sizes or default).split(",")]

    pipeline(synthetic_preview(50))  # warm imports and caches before measuring
    memory_columns = "" if options.no_memory else f" {'RSS MB':>7} {'+loads':>7} {'+pipeline':>9}"
    print(
        f"{'steps':>7} {'MB':>6} {'loads s':>8} {'pipeline s':>10} {'ratio':>6} {'µs/step':>8}"
        f"{memory_columns}   digest, assessment"
    )
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as scratch:
        for steps in sizes:
            start = time.perf_counter()
            text = synthetic_preview(steps)
            built = time.perf_counter() - start
            repeat = 1 if options.quick else 5 if steps <= 1_000 else 3 if steps <= 10_000 else 2
            collector = not options.no_gc
            loads_s, document = best_of(
                lambda text=text: json.loads(text), repeat, collector=collector
            )
            del document
            pipeline_s, (changeset, assessment) = best_of(
                lambda text=text: pipeline(text), repeat, collector=collector
            )
            memory = ""
            if not options.no_memory:
                path = Path(scratch, f"preview-{steps}.json")
                path.write_text(text, encoding="utf-8")
                loaded = memory_in_subprocess(path, "loads")
                piped = memory_in_subprocess(path, "pipeline")
                path.unlink()
                memory = (
                    f" {piped['text']:>7.0f} {loaded['loads'] - loaded['text']:>+7.0f}"
                    f" {piped['pipeline'] - piped['text']:>+9.0f}"
                )
            print(
                f"{steps:>7} {len(text) / 1e6:>6.1f} {loads_s:>8.3f} {pipeline_s:>10.3f}"
                f" {pipeline_s / loads_s:>6.2f} {pipeline_s / steps * 1e6:>8.1f}{memory}"
                f"   {changeset.digest[:12]}…, score {assessment.score} {assessment.level},"
                f" {len(assessment.factors)} factors (text built in {built:.1f} s)",
                flush=True,
            )
            del text, changeset, assessment
    if not options.no_memory:
        print(
            "RSS MB: resident memory of a fresh process holding the text; +loads, +pipeline: "
            "its peak above that\nduring json.loads, and (in another fresh process) during "
            "the pipeline."
        )


if __name__ == "__main__":
    main()
