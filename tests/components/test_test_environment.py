"""TestEnvironment under Pulumi mocks: every size x database x filestore, validation, outputs.

Each combination is run once (cached) and inspected by several tests.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pulumi
import pulumi_postgresql as postgresql
import pytest

from components.aws_policies import access_policy, oidc_issuer, trust_policy
from components.test_environment import (
    DATABASE_TYPES,
    DEFAULT_DATABASE,
    FILESTORE_TYPES,
    SIZE_NAMES,
    SIZES,
    TYPE_TOKEN,
    EnvVar,
    PlatformSettings,
    SecretKeyRef,
    TestEnvironment,
    TestEnvironmentArgs,
    TestEnvironmentError,
    quota_for,
)
from components.test_environment.metadata import label_value, postgres_identifier, rds_identifier
from policies.config import DEFAULT_CONFIG
from policies.tagging import REQUIRED_TEST_ENVIRONMENT_TAGS, missing_tags
from stacks.mock_engine import MockRun, SecretValue, plausible_outputs, run_under_mocks
from tests.components.crd_schema import crd_problems
from tests.components.mock_values import plain_strings

# -- builders -------------------------------------------------------------------------------

NAME = "demo"
MOCK_PASSWORD_MARK = "mock-password-"
OIDC_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/TEST"

PLATFORM = PlatformSettings(
    cluster="cloud-test",
    vpc_id="vpc-0test0000000000000",
    db_subnet_group="cloud-test-db-subnets",
    db_security_group_ids=("sg-0testdb000000000000",),
    test_domain="test.chat.example.com",
    ingress_class="nginx",
    shared_db_endpoint="cloud-test-multitenant-db.cluster-mock.us-east-1.rds.amazonaws.com",
    shared_bucket="cloud-test-multitenant-filestore",
    oidc_provider_arn=f"arn:aws:iam::000000000000:oidc-provider/{OIDC_ISSUER}",
    tls_secret="ingress-nginx/wildcard-test-tls",
)


# The component supports every size; which sizes a team allows is a policy setting
# (test_environment.allowed_sizes), tested below with the shipped settings.
EVERY_SIZE = DEFAULT_CONFIG.model_copy(
    update={
        "test_environment": DEFAULT_CONFIG.test_environment.model_copy(
            update={"allowed_sizes": SIZE_NAMES}
        )
    }
)


def make_args(**overrides: Any) -> TestEnvironmentArgs:
    base = TestEnvironmentArgs(
        name=NAME,
        owner="jane.doe@example.com",
        team="Platform SRE",
        version="10.5.0",
        platform=PLATFORM,
        expires_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        policy=EVERY_SIZE,
    )
    return replace(base, **overrides)


def run_env(args: TestEnvironmentArgs, *, preview: bool = False) -> MockRun:
    return run_under_mocks(
        lambda: TestEnvironment(args.name, args),
        project="sre-platform",
        stack=f"env-{args.name}",
        preview=preview,
    )


@functools.cache
def run_combo(size: str, database: str, filestore: str) -> MockRun:
    """One mock run per combination, shared by every test that inspects it."""
    return run_env(make_args(size=size, database=database, filestore=filestore))


def secret_strings(value: Any, *, inside: bool = False) -> Iterator[str]:
    """Every string inside a SecretValue."""
    if isinstance(value, SecretValue):
        yield from secret_strings(value.value, inside=True)
    elif isinstance(value, str):
        if inside:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_strings(item, inside=inside)
    elif isinstance(value, list):
        for item in value:
            yield from secret_strings(item, inside=inside)


_UNITS = {"m": 1, "Mi": 1, "Gi": 1024}


def quantity(text: str) -> int:
    """A cpu (``150m`` → 150) or memory (``256Mi`` → 256, ``1Gi`` → 1024) quantity."""
    for suffix, factor in _UNITS.items():
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * factor
    raise AssertionError(f"unexpected quantity {text!r}")


# -- resource types -------------------------------------------------------------------------

NAMESPACE = "kubernetes:core/v1:Namespace"
QUOTA = "kubernetes:core/v1:ResourceQuota"
LIMIT_RANGE = "kubernetes:core/v1:LimitRange"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
SECRET = "kubernetes:core/v1:Secret"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
MATTERMOST = "kubernetes:installation.mattermost.com/v1beta1:Mattermost"
PASSWORD = "random:index/randomPassword:RandomPassword"
RDS = "aws:rds/instance:Instance"
PG_ROLE = "postgresql:index/role:Role"
PG_DATABASE = "postgresql:index/database:Database"
BUCKET = "aws:s3/bucket:Bucket"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
IAM_ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

# SECRET: the namespace's copy of the cluster's wildcard certificate (see test_tls_*).
ALWAYS = {NAMESPACE: 1, QUOTA: 1, LIMIT_RANGE: 1, NETWORK_POLICY: 4, MATTERMOST: 1, SECRET: 1}
BY_DATABASE: dict[str, dict[str, int]] = {
    "aws-rds-postgres": {PASSWORD: 1, RDS: 1, SECRET: 1},
    "aws-multitenant-rds-postgres": {PASSWORD: 1, PG_ROLE: 1, PG_DATABASE: 1, SECRET: 1},
    "operator-managed": {},
}
IRSA = {IAM_ROLE: 1, ROLE_POLICY: 1, SERVICE_ACCOUNT: 1}
BY_FILESTORE: dict[str, dict[str, int]] = {
    "aws-s3": {
        BUCKET: 1,
        PUBLIC_ACCESS: 1,
        ENCRYPTION: 1,
        OWNERSHIP: 1,
        LIFECYCLE: 1,
        BUCKET_POLICY: 1,
        **IRSA,
    },
    "aws-multitenant-s3": IRSA,
    "operator-managed": {},
}
TAGGABLE = {RDS, BUCKET, IAM_ROLE}

COMBOS = list(itertools.product(SIZE_NAMES, DATABASE_TYPES, FILESTORE_TYPES))
combos = pytest.mark.parametrize(("size", "database", "filestore"), COMBOS)


def children(run: MockRun) -> list[Any]:
    """What the component declares (``get`` reads of existing resources excluded)."""
    return [r for r in run.resources if r.type != TYPE_TOKEN and not r.is_read]


# -- every combination ----------------------------------------------------------------------


def test_all_combinations_are_covered() -> None:
    assert len(COMBOS) == len(SIZES) * 3 * 3 == 63


@combos
def test_declares_exactly_the_resources_of_its_choices(
    size: str, database: str, filestore: str
) -> None:
    run = run_combo(size, database, filestore)
    expected = Counter(ALWAYS) + Counter(BY_DATABASE[database]) + Counter(BY_FILESTORE[filestore])
    assert Counter(r.type for r in children(run)) == expected
    assert [(r.type, r.read_id) for r in run.resources if r.is_read] == [
        (SECRET, PLATFORM.tls_secret)
    ]


@combos
def test_every_child_is_parented_by_the_component_and_named_after_it(
    size: str, database: str, filestore: str
) -> None:
    run = run_combo(size, database, filestore)
    component = run.one(TYPE_TOKEN, NAME)
    assert component.parent.endswith("::pulumi:pulumi:Stack::sre-platform-env-demo")
    for resource in run.resources:
        if resource is component:
            continue
        assert resource.parent == component.urn, resource.name
        assert resource.name == NAME or resource.name.startswith(f"{NAME}-"), resource.name


@combos
def test_namespaced_children_live_in_the_environment_namespace(
    size: str, database: str, filestore: str
) -> None:
    run = run_combo(size, database, filestore)
    namespace = run.one(NAMESPACE, NAME)
    assert namespace.inputs["metadata"]["name"] == NAME
    for resource in children(run):
        if resource.type.startswith("kubernetes:") and resource.type != NAMESPACE:
            assert resource.inputs["metadata"]["namespace"] == NAME, resource.name


@combos
def test_exactly_four_network_policies_isolate_the_namespace(
    size: str, database: str, filestore: str
) -> None:
    policies = {
        p.inputs["metadata"]["name"]: p.inputs["spec"]
        for p in run_combo(size, database, filestore).of_type(NETWORK_POLICY)
    }
    assert set(policies) == {
        "deny-other-namespaces",
        "allow-prometheus",
        "allow-ingress-nginx",
        "egress-block-metadata",
    }
    for spec in policies.values():
        assert spec["podSelector"] == {}  # every pod of the namespace

    deny = policies["deny-other-namespaces"]
    assert deny["policyTypes"] == ["Ingress"]
    assert deny["ingress"] == [{"from": [{"podSelector": {}}]}]  # same-namespace pods only

    def namespace_rule(spec: dict[str, Any]) -> tuple[str, set[tuple[str, int]]]:
        assert spec["policyTypes"] == ["Ingress"]
        [rule] = spec["ingress"]
        [peer] = rule["from"]
        assert set(peer) == {"namespaceSelector"}
        labels = peer["namespaceSelector"]["matchLabels"]
        ports = {(p["protocol"], int(p["port"])) for p in rule["ports"]}
        return labels["kubernetes.io/metadata.name"], ports

    assert namespace_rule(policies["allow-prometheus"]) == (
        "prometheus",
        {("TCP", 8065), ("TCP", 8067)},
    )
    assert namespace_rule(policies["allow-ingress-nginx"]) == ("ingress-nginx", {("TCP", 8065)})

    egress = policies["egress-block-metadata"]
    assert egress["policyTypes"] == ["Egress"]
    [rule] = egress["egress"]
    assert "ports" not in rule
    blocks = [peer["ipBlock"] for peer in rule["to"] if "ipBlock" in peer]
    assert blocks == [{"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}]
    # The only other peer is the in-cluster one; no peer re-admits the metadata address.
    assert [peer for peer in rule["to"] if "ipBlock" not in peer] == [{"namespaceSelector": {}}]


@combos
def test_quota_and_limit_range_follow_the_size(size: str, database: str, filestore: str) -> None:
    run = run_combo(size, database, filestore)
    spec = SIZES[size]
    backing = (database == "operator-managed") + (filestore == "operator-managed")
    hard = run.one(QUOTA).inputs["spec"]["hard"]
    [limits] = run.one(LIMIT_RANGE).inputs["spec"]["limits"]

    assert limits["type"] == "Container"
    assert quantity(limits["defaultRequest"]["cpu"]) == spec.cpu_millicores
    assert quantity(limits["defaultRequest"]["memory"]) == spec.memory_mib
    assert quantity(limits["default"]["cpu"]) == 2 * spec.cpu_millicores
    assert quantity(limits["default"]["memory"]) == 2 * spec.memory_mib

    # Twice the app (rolling-update surge) plus one replica per in-namespace service.
    replicas = spec.replicas + backing
    assert quantity(hard["requests.cpu"]) == 2 * replicas * spec.cpu_millicores
    assert quantity(hard["requests.memory"]) == 2 * replicas * spec.memory_mib
    assert quantity(hard["limits.cpu"]) == 2 * quantity(hard["requests.cpu"])
    assert quantity(hard["limits.memory"]) == 2 * quantity(hard["requests.memory"])
    assert int(hard["pods"]) == 2 * replicas + 2
    # A surged app at its declared limits fits in the quota.
    assert 2 * spec.replicas * quantity(limits["default"]["cpu"]) <= quantity(hard["limits.cpu"])
    assert 2 * spec.replicas * quantity(limits["default"]["memory"]) <= quantity(
        hard["limits.memory"]
    )


@combos
def test_aws_resources_carry_the_required_tags(size: str, database: str, filestore: str) -> None:
    run = run_combo(size, database, filestore)
    aws_resources = [r for r in run.resources if r.type.startswith("aws:")]
    tagged = {r.type for r in aws_resources if "tags" in r.inputs}
    expected = TAGGABLE & set(BY_DATABASE[database]) | TAGGABLE & set(BY_FILESTORE[filestore])
    assert tagged == expected
    for resource in aws_resources:
        if "tags" in resource.inputs:
            tags = resource.inputs["tags"]
            assert missing_tags(tags) == [], resource.name
            assert tags["environment"] == "test"
            assert tags["managed-by"] == "sre-platform"
            assert tags["owner"] == "jane.doe@example.com"
            assert tags["team"] == "Platform SRE"
            assert tags["expires-at"] == "2026-11-30T12:00:00Z"


@combos
def test_the_database_password_is_only_ever_a_secret(
    size: str, database: str, filestore: str
) -> None:
    run = run_combo(size, database, filestore)
    leaks = [
        r.name
        for r in run.resources
        if any(MOCK_PASSWORD_MARK in s for s in plain_strings(r.inputs))
    ]
    assert leaks == []
    holders = {
        r.type
        for r in run.resources
        if any(MOCK_PASSWORD_MARK in s for s in secret_strings(r.inputs))
    }
    expected = {
        "aws-rds-postgres": {RDS, SECRET},
        "aws-multitenant-rds-postgres": {PG_ROLE, SECRET},
        "operator-managed": set(),
    }[database]
    assert holders == expected
    for resource in children(run):
        if resource.type in {RDS, PG_ROLE}:
            assert "password" in resource.additional_secret_outputs
        if resource.type == SECRET:
            assert {"data", "stringData"} <= set(resource.additional_secret_outputs)


@combos
def test_rds_is_encrypted_private_and_disposable(size: str, database: str, filestore: str) -> None:
    instances = run_combo(size, database, filestore).of_type(RDS)
    if database != "aws-rds-postgres":
        assert instances == []
        return
    [db] = instances
    inputs = db.inputs
    assert inputs["storageEncrypted"] is True
    assert inputs["publiclyAccessible"] is False
    assert inputs["engine"] == "postgres"
    assert int(inputs["engineVersion"]) >= 16
    assert inputs["instanceClass"] == "db.t4g.medium"
    assert inputs["storageType"] == "gp3"
    assert inputs["allocatedStorage"] <= 20
    assert inputs["skipFinalSnapshot"] is True
    assert inputs["autoMinorVersionUpgrade"] is True
    assert inputs["backupRetentionPeriod"] <= 1
    assert inputs["dbSubnetGroupName"] == PLATFORM.db_subnet_group
    assert inputs["vpcSecurityGroupIds"] == list(PLATFORM.db_security_group_ids)
    assert isinstance(inputs["password"], SecretValue)


@combos
def test_bucket_is_private_encrypted_and_expiring(size: str, database: str, filestore: str) -> None:
    run = run_combo(size, database, filestore)
    if filestore != "aws-s3":
        assert run.of_type(BUCKET) == []
        return
    bucket = run.one(BUCKET)
    bucket_id = f"{bucket.name}-id"
    assert bucket.inputs["forceDestroy"] is True
    block = run.one(PUBLIC_ACCESS).inputs
    assert block["bucket"] == bucket_id
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[flag] is True, flag
    encryption = run.one(ENCRYPTION).inputs
    assert encryption["bucket"] == bucket_id
    [rule] = encryption["rules"]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in {"AES256", "aws:kms"}
    ownership = run.one(OWNERSHIP).inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    [lifecycle] = run.one(LIFECYCLE).inputs["rules"]
    assert lifecycle["status"] == "Enabled"
    assert lifecycle["abortIncompleteMultipartUpload"]["daysAfterInitiation"] >= 1
    assert lifecycle["expiration"]["days"] >= 1
    assert lifecycle["noncurrentVersionExpiration"]["noncurrentDays"] >= 1
    [statement] = json.loads(run.one(BUCKET_POLICY).inputs["policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@combos
def test_iam_access_is_least_privilege(size: str, database: str, filestore: str) -> None:
    run = run_combo(size, database, filestore)
    if filestore == "operator-managed":
        assert run.of_type(IAM_ROLE) == run.of_type(ROLE_POLICY) == []
        return
    document = json.loads(run.one(ROLE_POLICY).inputs["policy"])
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert "*" not in action
        for resource in statement["Resource"]:
            assert resource.startswith("arn:")
            assert resource != "*"
            assert not resource.endswith(":::*")
    resources = {res for s in document["Statement"] for res in s["Resource"]}
    if filestore == "aws-multitenant-s3":
        shared = f"arn:aws:s3:::{PLATFORM.shared_bucket}"
        assert resources == {shared, f"{shared}/{NAME}/*"}
        [listing] = [s for s in document["Statement"] if "s3:ListBucket" in s["Action"]]
        assert listing["Condition"] == {"StringLike": {"s3:prefix": [NAME, f"{NAME}/*"]}}
    else:
        bucket_arn = f"arn:aws:mock:us-east-1:000000000000:{NAME}-files"
        assert resources == {bucket_arn, f"{bucket_arn}/*"}

    trust = json.loads(run.one(IAM_ROLE).inputs["assumeRolePolicy"])
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Federated": PLATFORM.oidc_provider_arn}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{OIDC_ISSUER}:sub": f"system:serviceaccount:{NAME}:{NAME}",
            f"{OIDC_ISSUER}:aud": "sts.amazonaws.com",
        }
    }
    account = run.one(SERVICE_ACCOUNT).inputs["metadata"]
    assert account["name"] == NAME
    assert account["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:")


@combos
def test_mattermost_resource_wires_everything_together(
    size: str, database: str, filestore: str
) -> None:
    run = run_combo(size, database, filestore)
    cr = run.one(MATTERMOST).inputs
    spec = cr["spec"]
    size_spec = SIZES[size]
    assert cr["apiVersion"] == "installation.mattermost.com/v1beta1"
    assert cr["kind"] == "Mattermost"
    assert cr["metadata"]["name"] == NAME
    assert cr["metadata"]["labels"]["sre-platform/size"] == size
    # The operator would overwrite replicas and resources from its own table if size were set.
    assert "size" not in spec
    assert spec["replicas"] == size_spec.replicas
    assert spec["image"] == "mattermost/mattermost-enterprise-edition"
    assert spec["version"] == "10.5.0"
    assert spec["ingress"] == {
        "enabled": True,
        "host": f"{NAME}.{PLATFORM.test_domain}",
        "ingressClass": "nginx",
        "tlsSecret": f"{NAME}-tls",
    }
    requests = spec["scheduling"]["resources"]["requests"]
    assert quantity(requests["cpu"]) == size_spec.cpu_millicores
    assert quantity(requests["memory"]) == size_spec.memory_mib

    if database == "operator-managed":
        assert set(spec["database"]) == {"operatorManaged"}
        # MySQL, said explicitly: the operator does not implement its "postgres" type.
        assert spec["database"]["operatorManaged"]["type"] == "mysql"
        assert spec["database"]["operatorManaged"]["replicas"] == 1
    else:
        assert spec["database"] == {"external": {"secret": f"{NAME}-db"}}
        secret = run.one(SECRET, f"{NAME}-db").inputs
        assert secret["metadata"]["name"] == f"{NAME}-db"
        assert set(secret["stringData"].value) == {"DB_CONNECTION_STRING"}

    if filestore == "operator-managed":
        assert set(spec["fileStore"]) == {"operatorManaged"}
    else:
        bucket = f"{NAME}-files" if filestore == "aws-s3" else PLATFORM.shared_bucket
        assert spec["fileStore"] == {
            "external": {"url": "s3.amazonaws.com", "bucket": bucket, "useServiceAccount": True}
        }
    prefix = [e for e in spec["mattermostEnv"] if e["name"] == "MM_FILESETTINGS_AMAZONS3PATHPREFIX"]
    assert prefix == (
        [{"name": "MM_FILESETTINGS_AMAZONS3PATHPREFIX", "value": NAME}]
        if filestore == "aws-multitenant-s3"
        else []
    )


@combos
def test_the_mattermost_resource_validates_against_the_operators_crd(
    size: str, database: str, filestore: str
) -> None:
    cr = run_combo(size, database, filestore).one(MATTERMOST).inputs
    assert crd_problems(cr) == []


def test_crd_validation_refuses_unknown_and_mistyped_fields() -> None:
    cr = json.loads(
        json.dumps(run_combo("miniHA", "operator-managed", "aws-s3").one(MATTERMOST).inputs)
    )
    cr["spec"]["ingress"]["tlsSecrets"] = "demo-tls"
    cr["spec"]["database"]["operatorManaged"]["replicas"] = "one"
    assert crd_problems(cr) == [
        "spec.database.operatorManaged.replicas: 'one' is not of type 'integer'",
        "spec.ingress: Additional properties are not allowed ('tlsSecrets' was unexpected)",
    ]


# -- database default ------------------------------------------------------------------------


def test_the_default_database_is_postgresql_on_the_shared_cluster() -> None:
    args = TestEnvironmentArgs(
        name=NAME,
        owner="jane.doe@example.com",
        team="sre",
        version="10.5.0",
        platform=PLATFORM,
        expires_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
    )
    assert args.database == DEFAULT_DATABASE == "aws-multitenant-rds-postgres"
    run = run_env(args)
    assert run.one(MATTERMOST).inputs["spec"]["database"] == {"external": {"secret": f"{NAME}-db"}}
    secret = run.one(SECRET, f"{NAME}-db").inputs["stringData"].value
    assert secret["DB_CONNECTION_STRING"].startswith("postgres://")
    assert run.one(PG_DATABASE).inputs["name"] == "mm_demo"


# -- TLS -------------------------------------------------------------------------------------

WILDCARD = {"tls.crt": "LS0tLS1CRUdJTiBDRVJU", "tls.key": "LS0tLS1CRUdJTiBLRVk="}


def _cluster_with_wildcard(type_token: str, name: str, inputs: Any) -> dict[str, Any]:
    """Provider outputs, where reading the wildcard Secret answers its certificate."""
    outputs = plausible_outputs(type_token, name, inputs)
    if type_token == SECRET and name == f"{NAME}-tls-source":
        outputs["data"] = WILDCARD
    return outputs


def test_tls_the_ingress_serves_a_namespaced_copy_of_the_wildcard_certificate() -> None:
    args = make_args()
    run = run_under_mocks(
        lambda: TestEnvironment(NAME, args),
        project="sre-platform",
        stack="env-demo",
        outputs_for=_cluster_with_wildcard,
    )
    source = run.one(SECRET, f"{NAME}-tls-source")
    assert source.is_read and source.read_id == "ingress-nginx/wildcard-test-tls"
    copy = run.one(SECRET, f"{NAME}-tls")
    assert not copy.is_read
    assert copy.inputs["type"] == "kubernetes.io/tls"
    assert copy.inputs["metadata"]["name"] == f"{NAME}-tls"
    assert copy.inputs["metadata"]["namespace"] == NAME
    # The certificate's key is a secret wherever it appears.
    assert copy.inputs["data"] == SecretValue(WILDCARD)
    assert {"data", "stringData"} <= set(copy.additional_secret_outputs)
    cr = run.one(MATTERMOST)
    assert cr.inputs["spec"]["ingress"]["tlsSecret"] == f"{NAME}-tls"
    assert copy.urn in cr.property_dependencies["spec"]


# -- outputs --------------------------------------------------------------------------------


def _exports(args: TestEnvironmentArgs, **opts: Any) -> MockRun:
    def program() -> None:
        env = TestEnvironment(args.name, args, pulumi.ResourceOptions(**opts))
        pulumi.export("url", env.url)
        pulumi.export("namespace", env.namespace)
        pulumi.export("database_endpoint", env.database_endpoint)
        pulumi.export("bucket", env.bucket)

    return run_under_mocks(program, project="sre-platform", stack=f"env-{args.name}")


def test_outputs_of_a_fully_external_environment() -> None:
    run = _exports(make_args(database="aws-rds-postgres", filestore="aws-s3"))
    assert run.exports["url"] == "https://demo.test.chat.example.com"
    assert run.exports["namespace"] == NAME
    endpoint = run.exports["database_endpoint"]
    assert isinstance(endpoint, SecretValue)
    assert endpoint.value == "demo-db.mock.us-east-1.rds.amazonaws.com:5432"
    assert run.exports["bucket"] == "demo-files"


def test_outputs_of_a_shared_environment() -> None:
    run = _exports(
        make_args(database="aws-multitenant-rds-postgres", filestore="aws-multitenant-s3")
    )
    endpoint = run.exports["database_endpoint"]
    assert isinstance(endpoint, SecretValue)
    assert endpoint.value == f"{PLATFORM.shared_db_endpoint}:5432"
    assert run.exports["bucket"] == PLATFORM.shared_bucket


def test_outputs_of_an_operator_managed_environment() -> None:
    run = _exports(make_args(database="operator-managed"))
    assert run.exports["url"] == "https://demo.test.chat.example.com"
    assert run.exports["database_endpoint"] is None
    assert run.exports["bucket"] is None


def test_component_registers_its_public_outputs() -> None:
    captured: dict[str, Any] = {}

    class Probe(TestEnvironment):
        def register_outputs(self, outputs: Any) -> None:
            captured.update(outputs)
            super().register_outputs(outputs)

    args = make_args()
    run_under_mocks(lambda: Probe(NAME, args), project="sre-platform", stack="env-demo")
    assert set(captured) == {"url", "namespace", "database_endpoint", "bucket"}


# -- connection strings, names, providers ---------------------------------------------------


def test_rds_connection_string_points_at_the_instance() -> None:
    run = run_combo("1000users", "aws-rds-postgres", "operator-managed")
    connection = run.one(SECRET, f"{NAME}-db").inputs["stringData"].value["DB_CONNECTION_STRING"]
    assert connection == (
        "postgres://mmadmin:mock-password-xxxxxxxxxxxxxxxx"
        "@demo-db.mock.us-east-1.rds.amazonaws.com:5432/mattermost"
        "?sslmode=require&connect_timeout=10"
    )
    assert run.one(RDS).inputs["identifier"] == "mm-demo"


def test_shared_cluster_database_is_owned_by_its_own_login_role() -> None:
    run = run_combo("1000users", "aws-multitenant-rds-postgres", "operator-managed")
    role = run.one(PG_ROLE).inputs
    database = run.one(PG_DATABASE).inputs
    assert role["name"] == database["name"] == database["owner"] == "mm_demo"
    assert role["login"] is True
    assert isinstance(role["password"], SecretValue)
    connection = run.one(SECRET, f"{NAME}-db").inputs["stringData"].value["DB_CONNECTION_STRING"]
    assert connection.startswith("postgres://mm_demo:mock-password-")
    assert f"@{PLATFORM.shared_db_endpoint}:5432/mm_demo?sslmode=require" in connection


def test_password_generator_avoids_characters_rds_rejects() -> None:
    password = run_combo("100users", "aws-rds-postgres", "operator-managed").one(PASSWORD).inputs
    assert password["length"] >= 32
    allowed_specials = password["overrideSpecial"] if password["special"] else ""
    assert not set(allowed_specials) & set('/@" ')


def test_providers_from_the_component_options_reach_the_children() -> None:
    args = make_args(database="aws-multitenant-rds-postgres")

    def program() -> None:
        provider = postgresql.Provider("shared-cluster", host=PLATFORM.shared_db_endpoint)
        TestEnvironment(NAME, args, pulumi.ResourceOptions(providers={"postgresql": provider}))

    run = run_under_mocks(program, project="sre-platform", stack="env-demo")
    for token in (PG_ROLE, PG_DATABASE):
        assert "pulumi:providers:postgresql::shared-cluster" in run.one(token).provider


def test_names_starting_with_a_digit_or_double_hyphen_give_valid_rds_identifiers() -> None:
    assert rds_identifier("1k--load") == "mm-1k-load"
    assert postgres_identifier("1k-load") == "mm_1k_load"
    run = run_env(make_args(name="1k--load", database="aws-rds-postgres"))
    assert run.one(RDS).inputs["identifier"] == "mm-1k-load"


def test_request_labels_and_annotations_on_the_namespace() -> None:
    run = run_env(make_args(labels={"example.com/purpose": "migration-test"}))
    metadata = run.one(NAMESPACE, NAME).inputs["metadata"]
    assert metadata["labels"] == {
        "example.com/purpose": "migration-test",
        "app.kubernetes.io/managed-by": "sre-platform",
        "sre-platform/environment": "test",
        "sre-platform/team": "Platform-SRE",
        "pod-security.kubernetes.io/enforce": "baseline",
    }
    assert metadata["annotations"] == {
        "sre-platform/owner": "jane.doe@example.com",
        "sre-platform/expires-at": "2026-11-30T12:00:00Z",
    }


def test_expiry_is_written_in_utc() -> None:
    from datetime import timedelta, timezone

    berlin = timezone(timedelta(hours=1))
    run = run_env(make_args(expires_at=datetime(2026, 11, 30, 13, 0, tzinfo=berlin)))
    annotations = run.one(NAMESPACE, NAME).inputs["metadata"]["annotations"]
    assert annotations["sre-platform/expires-at"] == "2026-11-30T12:00:00Z"


def test_env_vars_become_literal_or_secret_references() -> None:
    env = (
        EnvVar("MM_LOGSETTINGS_CONSOLELEVEL", value="DEBUG"),
        EnvVar("MM_EMAILSETTINGS_SMTPPASSWORD", secret_ref=SecretKeyRef("smtp", "password")),
    )
    run = run_env(make_args(env=env))
    assert run.one(MATTERMOST).inputs["spec"]["mattermostEnv"] == [
        {"name": "MM_LOGSETTINGS_CONSOLELEVEL", "value": "DEBUG"},
        {
            "name": "MM_EMAILSETTINGS_SMTPPASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "smtp", "key": "password"}},
        },
    ]


def test_preview_declares_the_same_resources() -> None:
    args = make_args(database="aws-rds-postgres", filestore="aws-s3")
    preview = run_env(args, preview=True)
    assert sorted((r.type, r.name) for r in preview.resources) == sorted(
        (r.type, r.name) for r in run_combo("miniSingleton", "aws-rds-postgres", "aws-s3").resources
    )


# -- pure functions -------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZE_NAMES)
def test_quota_gives_the_app_surge_room_and_caps_limits(size: str) -> None:
    spec = SIZES[size]
    for services in (0, 1, 2):
        quota = quota_for(spec, in_namespace_services=services)
        assert quota.requests_cpu_millicores >= 2 * spec.total_cpu_millicores
        assert quota.requests_memory_mib >= 2 * spec.total_memory_mib
        assert quota.limits_cpu_millicores == 2 * quota.requests_cpu_millicores
        assert quota.limits_memory_mib == 2 * quota.requests_memory_mib
        assert quota.pods >= 2 * spec.replicas + services
    assert (
        quota_for(spec, in_namespace_services=1).requests_cpu_millicores
        > quota_for(spec).requests_cpu_millicores
    )


def test_label_value_sanitises_team_names() -> None:
    assert label_value("Platform SRE") == "Platform-SRE"
    assert label_value("  -SRE (EU)- ") == "SRE-EU"
    assert len(label_value("x" * 100)) == 63


def test_irsa_helpers() -> None:
    assert oidc_issuer(PLATFORM.oidc_provider_arn) == OIDC_ISSUER
    trust = json.loads(trust_policy(PLATFORM.oidc_provider_arn, "ns", "sa"))
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert condition[f"{OIDC_ISSUER}:sub"] == "system:serviceaccount:ns:sa"
    policy = access_policy("arn:aws:s3:::shared", "env")
    assert policy["Statement"][1]["Resource"] == ["arn:aws:s3:::shared/env/*"]


# -- validation -----------------------------------------------------------------------------


def _construct(name: str, args: TestEnvironmentArgs) -> tuple[TestEnvironmentError, MockRun]:
    """Construct under mocks, catching the error inside the program to see what was declared."""
    caught: list[TestEnvironmentError] = []

    def program() -> None:
        with pytest.raises(TestEnvironmentError) as info:
            TestEnvironment(name, args)
        caught.append(info.value)

    run = run_under_mocks(program, project="sre-platform", stack="env-x")
    return caught[0], run


@pytest.mark.parametrize(
    ("name", "overrides", "field", "fragments"),
    [
        ("Demo", {}, "name", ["'Demo'", "DNS label"]),
        ("a" * 41, {}, "name", ["at most 40"]),
        ("-demo", {}, "name", ["starting and ending"]),
        ("demo", {"name": "other"}, "args.name", ["'other'", "'demo'"]),
        ("demo", {"size": "huge"}, "size", ["'huge'", "miniSingleton", "25000users"]),
        ("demo", {"database": "mysql"}, "database", ["'mysql'", "aws-rds-postgres"]),
        ("demo", {"filestore": "nfs"}, "filestore", ["'nfs'", "aws-multitenant-s3"]),
        (
            "demo",
            {"expires_at": datetime(2026, 11, 30, 12, 0)},
            "expires_at",
            ["2026-11-30T12:00:00", "timezone-aware"],
        ),
        ("demo", {"team": ""}, "team", ["AWS tag value"]),
        ("demo", {"owner": "a,b"}, "owner", ["'a,b'"]),
        ("demo", {"version": "10.5 beta"}, "version", ["'10.5 beta'"]),
        ("demo", {"image": "mattermost:latest"}, "image", ["without tag"]),
        (
            "demo",
            {"env": (EnvVar("mm_lower", "x"),)},
            "env[0].name",
            ["'mm_lower'", "^[A-Z_][A-Z0-9_]*$"],
        ),
        (
            "demo",
            {"env": (EnvVar("MM_X"),)},
            "env[0] (MM_X)",
            ["exactly one of value or secret_ref"],
        ),
        (
            "demo",
            {"env": (EnvVar("MM_X", "1", SecretKeyRef("s", "k")),)},
            "env[0] (MM_X)",
            ["exactly one of value or secret_ref"],
        ),
        (
            "demo",
            {"env": (EnvVar("MM_X", "1"), EnvVar("MM_X", "2"))},
            "env[1].name",
            ["unique"],
        ),
        (
            "demo",
            {"env": (EnvVar("MM_FILESETTINGS_AMAZONS3PATHPREFIX", "x"),)},
            "env[0].name",
            ["set by the platform"],
        ),
        (
            "demo",
            {"env": (EnvVar("MM_X", secret_ref=SecretKeyRef("Bad_Name", "k")),)},
            "env[0].secret_ref.secret",
            ["'Bad_Name'"],
        ),
        (
            "demo",
            {"labels": {"sre-platform/team": "other"}},
            "labels key",
            ["'sre-platform/team'", "reserved"],
        ),
        ("demo", {"labels": {"purpose": "no spaces"}}, "labels['purpose']", ["'no spaces'"]),
        (
            "demo",
            {"database": "aws-rds-postgres", "db_instance_class": "t4g.medium"},
            "db_instance_class",
            ["'t4g.medium'", "db.t4g.medium"],
        ),
        (
            "demo",
            {
                "filestore": "aws-s3",
                "platform": replace(PLATFORM, oidc_provider_arn="arn:aws:iam::1:role/x"),
            },
            "platform.oidc_provider_arn",
            ["oidc-provider"],
        ),
        (
            "demo",
            {"filestore": "aws-multitenant-s3", "platform": replace(PLATFORM, shared_bucket="")},
            "platform.shared_bucket",
            ["S3 bucket name"],
        ),
        (
            "demo",
            {
                "database": "aws-multitenant-rds-postgres",
                "platform": replace(PLATFORM, shared_db_endpoint=""),
            },
            "platform.shared_db_endpoint",
            ["must not be empty"],
        ),
        (
            "demo",
            {"platform": replace(PLATFORM, tls_secret="wildcard-tls")},
            "platform.tls_secret",
            ["'wildcard-tls'", "<namespace>/<name>"],
        ),
    ],
)
def test_invalid_input_is_rejected_before_anything_is_declared(
    name: str, overrides: dict[str, Any], field: str, fragments: list[str]
) -> None:
    args = make_args(**{"name": name, **overrides})
    error, run = _construct(name, args)
    assert isinstance(error, ValueError)
    assert error.field == field
    message = str(error)
    assert message.startswith(f"invalid {field} ")
    for fragment in fragments:
        assert fragment in message
    assert run.resources == []


@pytest.mark.parametrize(
    ("var_name", "value"),
    [
        ("MM_EMAILSETTINGS_SMTPPASSWORD", "hunter2-but-longer"),
        ("MM_CUSTOM", "AKIAIOSFODNN7EXAMPLE"),
        ("MM_CUSTOM", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("MM_CUSTOM", "postgres://user:s3cr3t-pass@db:5432/mm"),
        ("MM_CUSTOM", "Zx8Qp2Lm9Rt4Vb7Nc1Kd6Wf3Hs5Jg0Ye"),
    ],
)
def test_plaintext_secrets_are_rejected_without_echoing_them(var_name: str, value: str) -> None:
    args = make_args(env=(EnvVar("MM_LOGSETTINGS_CONSOLELEVEL", "DEBUG"), EnvVar(var_name, value)))
    error, run = _construct(NAME, args)
    assert error.field == f"env[1].value ({var_name})"
    assert value not in str(error)
    assert value not in repr(error.value)
    assert "secret" in str(error).lower()
    assert run.resources == []


def test_required_tags_are_the_policy_packs() -> None:
    tags = run_combo("100users", "aws-rds-postgres", "aws-s3").one(RDS).inputs["tags"]
    assert set(REQUIRED_TEST_ENVIRONMENT_TAGS) <= set(tags)


def test_errors_survive_pickling_for_parallel_runners() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(TestEnvironmentError("size", "huge", "must be small")))
    assert (error.field, error.value, str(error)) == (
        "size",
        "huge",
        "invalid size 'huge': must be small",
    )
