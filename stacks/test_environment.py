"""The ``env-<name>`` stack program: one self-serve test environment from its request file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_postgresql as postgresql

from change_mgmt.documents import DocumentError
from change_mgmt.environments.catalog import REQUESTS_DIR, load_request
from change_mgmt.environments.request import EnvironmentRequest, format_expiry
from components.test_environment import (
    EnvVar,
    PlatformSettings,
    SecretKeyRef,
    TestEnvironment,
    TestEnvironmentArgs,
)
from components.test_environment.errors import PolicyRefusal
from policies.config import DEFAULT_CONFIG, PolicyConfig
from stacks.platform_config import read_platform_config, shared_db_admin_password

STACK_PREFIX = "env-"


class RequestFileError(pulumi.RunError):
    """The stack's request file is missing, invalid or expired (shown without a traceback)."""


class PolicyRefusedError(pulumi.RunError):
    """The request asks for something a rule of the policy pack refuses (``rule_id``)."""

    def __init__(self, message: str, rule_id: str, finding: str) -> None:
        self.rule_id = rule_id
        self.finding = finding
        super().__init__(message)


def environment_name(stack: str) -> str:
    return stack.removeprefix(STACK_PREFIX)


def load_stack_request(requests_dir: Path, name: str) -> EnvironmentRequest:
    path = requests_dir / f"{name}.yaml"
    if not path.is_file():
        raise RequestFileError(
            f"no request file {path} for stack {STACK_PREFIX}{name}; "
            "create it with `sre env new` and open a pull request"
        )
    try:
        return load_request(path).request
    except DocumentError as exc:
        raise RequestFileError(f"invalid request file:\n{exc}") from None


def environment_args(
    request: EnvironmentRequest, platform: PlatformSettings, policy: PolicyConfig = DEFAULT_CONFIG
) -> TestEnvironmentArgs:
    """Translate the request document into the component's typed arguments."""
    env = tuple(
        EnvVar(name=key, value=value)
        if isinstance(value, str)
        else EnvVar(name=key, secret_ref=SecretKeyRef(secret=value.secret, key=value.key))
        for key, value in request.env.items()
    )
    return TestEnvironmentArgs(
        name=request.name,
        owner=str(request.owner),
        team=request.team,
        version=request.version,
        image=request.image,
        size=request.size,
        database=request.database,
        filestore=request.filestore,
        expires_at=request.expires_at,
        env=env,
        labels=dict(request.labels),
        platform=platform,
        policy=policy,
    )


def build(project_dir: Path, policy: PolicyConfig = DEFAULT_CONFIG) -> None:
    """Declare the environment named by the current stack from its request file under
    ``project_dir``; ``policy`` is the repository's policy pack settings, which the
    component checks its inputs against."""
    name = environment_name(pulumi.get_stack())
    requests_dir = project_dir / REQUESTS_DIR
    request = load_stack_request(requests_dir, name)
    config = read_platform_config(project_dir)
    args = environment_args(request, config.settings(), policy)
    if not pulumi.runtime.is_dry_run() and request.expires_at <= datetime.now(UTC):
        raise RequestFileError(
            f"environment {name} expired at {format_expiry(request.expires_at)}; "
            "it will not be deployed again. Extend expires_at in a pull request, "
            "or remove the file to destroy it."
        )

    providers: dict[str, pulumi.ProviderResource] = {
        "kubernetes": k8s.Provider("cluster", context=args.platform.cluster),
    }
    if request.database == "aws-multitenant-rds-postgres":
        providers["postgresql"] = postgresql.Provider(
            "shared-db",
            host=config.shared_db_endpoint,
            username=config.shared_db_admin_user,
            password=shared_db_admin_password(),
            sslmode="require",
            superuser=False,
        )
    try:
        environment = TestEnvironment(name, args, pulumi.ResourceOptions(providers=providers))
    except PolicyRefusal as exc:
        raise PolicyRefusedError(
            f"{requests_dir / (name + '.yaml')}: {exc}", exc.rule_id, exc.finding
        ) from None

    pulumi.export("url", environment.url)
    pulumi.export("namespace", environment.namespace)
    pulumi.export("bucket", environment.bucket)
    pulumi.export("databaseEndpoint", environment.database_endpoint)
    pulumi.export("expiresAt", format_expiry(request.expires_at))
    pulumi.export("owner", str(request.owner))
    pulumi.export("team", request.team)
