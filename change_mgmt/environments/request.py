"""The self-serve test environment request: one small YAML file per environment.

An engineer writes it in a pull request (``stacks/environments/<name>.yaml``); CI
validates it with this model; the ``env-<name>`` stack deploys it. The model is the
one definition of the document: its field descriptions are what ``sre env schema``
publishes to editors and what docs/environments.md documents.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from change_mgmt.documents import TEXT_EXPECTED
from components.test_environment.args import (
    DEFAULT_DATABASE,
    DatabaseType,
    FilestoreType,
    Size,
)
from components.test_environment.metadata import RESERVED_LABEL_PREFIXES
from policies.config import DEFAULT_CONFIG, PolicyConfig
from policies.naming import dns_label_problem, label_key_problem
from policies.rules.test_environments import size_refusal
from policies.secrets import Location, literal_secret_problems

MAX_NAME_LENGTH = 40
MAX_LIFETIME = timedelta(days=14)
DEFAULT_TTL = timedelta(hours=72)
DEFAULT_IMAGE = "mattermost/mattermost-enterprise-edition"

_IMAGE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+$")
_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# Fields whose entries are judged by their name too when looking for literal secrets.
CREDENTIAL_NAMED_FIELDS = frozenset({"env"})
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def _dns_label(value: str) -> str:
    problem = dns_label_problem(value, max_length=MAX_NAME_LENGTH)
    if problem:
        raise ValueError(problem)
    return value


def _label_key(value: str) -> str:
    problem = label_key_problem(value, owned_prefixes=RESERVED_LABEL_PREFIXES)
    if problem:
        raise ValueError(problem)
    return value


def _label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise ValueError(
            "label values are at most 63 characters of letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return value


def _matches(pattern: re.Pattern[str], explanation: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value[:80]!r} {explanation}")
        return value

    return AfterValidator(check)


EnvName = Annotated[
    str,
    Field(max_length=128),
    _matches(
        re.compile(r"^[A-Z_][A-Z0-9_]*$"),
        "is not a variable name: use upper-case letters, digits and '_', not starting with a digit",
    ),
]
LabelKey = Annotated[str, Field(max_length=317), AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]


class SecretReference(BaseModel):
    """A key of a Kubernetes Secret in the environment's namespace."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret: Annotated[
        str,
        _matches(
            _SECRET_NAME,
            "is not a Kubernetes Secret name: lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit",
        ),
        Field(
            max_length=253,
            description="Name of the Kubernetes Secret (in the environment's namespace).",
        ),
    ]
    key: Annotated[
        str,
        _matches(_SECRET_KEY, "is not a Secret key: letters, digits, '-', '_' and '.'"),
        Field(max_length=253, description="Key inside that Secret."),
    ]


def _env_value(value: Any) -> Any:
    """One clear error for a value that is neither text nor a secret reference."""
    if isinstance(value, str | SecretReference):
        return value
    if isinstance(value, dict):
        return SecretReference.model_validate(value)
    raise PydanticCustomError(
        TEXT_EXPECTED, "must be text or a secret reference {secret: <name>, key: <key>}"
    )


def _moment(value: Any) -> Any:
    """A number is no point in time (pydantic would read ``17:00``, which YAML makes
    1020, as seconds since 1970)."""
    if isinstance(value, int | float):
        raise PydanticCustomError("datetime_type", "must be a date and time with a time zone")
    return value


EnvValue = Annotated[str | SecretReference, BeforeValidator(_env_value)]


class EnvironmentRequest(BaseModel):
    """A request for one short-lived Mattermost test installation."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="sre-platform test environment request",
        json_schema_extra={"$comment": "stacks/environments/<name>.yaml; see docs/environments.md"},
    )

    name: Annotated[
        str,
        AfterValidator(_dns_label),
        Field(
            description=(
                "Environment name: a DNS label of at most 40 characters, equal to the file "
                "name and unique across all requests. It names the stack (env-<name>), the "
                "namespace and the host <name>.<test domain>."
            ),
        ),
    ]
    owner: Annotated[
        EmailStr, Field(description="Email of the engineer responsible; told before expiry.")
    ]
    team: Annotated[
        str,
        AfterValidator(_dns_label),
        Field(description="Owning team as a short lower-case slug (cost is reported per team)."),
    ]
    purpose: Annotated[
        str,
        Field(min_length=3, max_length=300, description="Why the environment exists, in one line."),
    ]
    size: Annotated[
        Size,
        Field(
            description=(
                "Installation size: app replicas and resources (see docs/environments.md). Test "
                "environments may use the sizes the policy pack allows "
                "(test_environment.allowed_sizes). Default miniSingleton, the cheapest."
            )
        ),
    ] = "miniSingleton"
    version: Annotated[
        str,
        _matches(_VERSION, 'is not a Mattermost version like "10.11.2"'),
        Field(
            description='Mattermost server version, e.g. "10.5.1" (quote it in YAML).',
        ),
    ]
    image: Annotated[
        str,
        _matches(
            _IMAGE, "is not an image repository like registry.example.com/team/mattermost (no tag)"
        ),
        Field(
            max_length=255,
            description=(
                "Container image repository without tag (the tag is the version). "
                f"Default {DEFAULT_IMAGE}."
            ),
        ),
    ] = DEFAULT_IMAGE
    database: Annotated[
        DatabaseType,
        Field(
            description=(
                "aws-multitenant-rds-postgres (default): PostgreSQL, a database and role of "
                "its own on the shared Aurora cluster; aws-rds-postgres: PostgreSQL, a "
                "private, encrypted RDS instance of its own; operator-managed: MySQL run by "
                "the operator in the namespace (Mattermost is deprecating MySQL)."
            )
        ),
    ] = DEFAULT_DATABASE
    filestore: Annotated[
        FilestoreType,
        Field(
            description=(
                "aws-s3: a private, encrypted bucket of its own; aws-multitenant-s3: a prefix "
                "of the shared bucket; operator-managed (default): in-cluster storage."
            )
        ),
    ] = "operator-managed"
    expires_at: Annotated[
        AwareDatetime,
        BeforeValidator(_moment),
        Field(
            description=(
                "When the environment ends, absolute with a time zone, e.g. "
                "2026-12-01T09:00:00Z. A new or changed request must expire in the future "
                "and at most 14 days after it is validated."
            )
        ),
    ]
    env: Annotated[
        dict[EnvName, EnvValue],
        Field(
            description=(
                "App environment variables. Literal values that look like credentials "
                "(here and in every other field) are refused: write "
                "{secret: <name>, key: <key>} to reference a Secret instead."
            ),
            max_length=100,
        ),
    ] = {}
    labels: Annotated[
        dict[LabelKey, LabelValue],
        Field(
            description=(
                "Free-form Kubernetes labels added to the namespace. Keys under "
                "kubernetes.io/, k8s.io/ (and their subdomains) and sre-platform/ are refused."
            ),
            max_length=32,
        ),
    ] = {}

    @property
    def stack_name(self) -> str:
        return f"env-{self.name}"

    @field_validator("expires_at")
    @classmethod
    def _expiry_in_window(cls, value: datetime, info: ValidationInfo) -> datetime:
        """Normalise to UTC; for new or changed requests, enforce the lifetime window."""
        value = value.astimezone(UTC)
        context = info.context or {}
        now = context.get("now")
        if context.get("check_lifetime") and isinstance(now, datetime):
            if value <= now:
                raise ValueError(
                    f"{_iso(value)} is in the past (now {_iso(now)}); a new or changed request "
                    "must expire in the future"
                )
            if value > now + MAX_LIFETIME:
                raise ValueError(
                    f"{_iso(value)} is more than 14 days away; expire at "
                    f"{_iso(now + MAX_LIFETIME)} at the latest"
                )
        return value

    @field_validator("size")
    @classmethod
    def _size_allowed_by_policy(cls, value: str, info: ValidationInfo) -> str:
        """The policy pack's rule (test-env-size-cap) and settings decide, so a request
        that validates is never refused by ``render`` or ``pulumi preview`` for its size."""
        context = info.context or {}
        policy = context.get("policy", DEFAULT_CONFIG)
        if not isinstance(policy, PolicyConfig):
            return value  # None: the caller evaluates the pack itself (see load_request)
        problem = size_refusal(value, policy.test_environment)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _no_literal_secrets(self) -> EnvironmentRequest:
        """A credential-shaped literal in any field is refused (its value never echoed)."""
        found = secret_problems(self.model_dump(mode="json", by_alias=True))
        if found:
            errors = [
                InitErrorDetails(
                    type=PydanticCustomError("plaintext_secret", why),
                    loc=location,
                    input="[redacted]",
                )
                for location, _at_key, why in found
            ]
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self


def secret_problems(data: dict[str, Any]) -> list[tuple[Location, bool, str]]:
    """Credential-shaped literals anywhere in a request document: (where, at key, why)."""
    return list(literal_secret_problems(data, named_under=CREDENTIAL_NAMED_FIELDS))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_expiry(moment: datetime) -> str:
    """The canonical ``YYYY-MM-DDTHH:MM:SSZ`` form used in files, tags and output."""
    return _iso(moment)


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use to validate request files."""
    schema = EnvironmentRequest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
