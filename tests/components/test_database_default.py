"""The default database is PostgreSQL wherever a request gets it: the component's args,
the request model, and the file ``sre env new`` writes."""

from __future__ import annotations

from datetime import UTC, datetime

from change_mgmt.environments.new import new_request, request_text
from change_mgmt.environments.request import EnvironmentRequest
from components.test_environment import DEFAULT_DATABASE, TestEnvironmentArgs

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_one_default_for_args_requests_and_new_files() -> None:
    assert DEFAULT_DATABASE == "aws-multitenant-rds-postgres"
    assert TestEnvironmentArgs.__dataclass_fields__["database"].default == DEFAULT_DATABASE
    assert EnvironmentRequest.model_fields["database"].default == DEFAULT_DATABASE
    request = new_request(name="demo", owner="dev@example.com", team="backend", now=NOW)
    assert request.database == DEFAULT_DATABASE
    assert "\ndatabase: aws-multitenant-rds-postgres\n" in request_text(request)


def test_the_request_schema_says_what_each_database_runs() -> None:
    description = EnvironmentRequest.model_fields["database"].description or ""
    assert "aws-multitenant-rds-postgres (default): PostgreSQL" in description
    assert "aws-rds-postgres: PostgreSQL" in description
    assert "operator-managed: MySQL" in description
