"""The one DynamoDB table behind a shared ledger and outbox: client, keys, errors.

Every item has a string partition key ``pk`` and sort key ``sk`` (docs/ledger.md lists
them). boto3 is imported here only, and this module only where a ``dynamodb://`` URL is
configured, so ``sre --help`` never loads it. The client retries throttling
(``ProvisionedThroughputExceededException``, ``ThrottlingException``) and transient
errors itself: botocore's ``standard`` retry mode backs off exponentially with full
jitter, up to ``MAX_ATTEMPTS`` calls, so a throttled write is delayed, never dropped.
``AWS_ENDPOINT_URL`` (or ``AWS_ENDPOINT_URL_DYNAMODB``) is honoured by botocore.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from change_mgmt.ledger.config import LedgerLocation
from change_mgmt.ledger.records import LedgerError

MAX_ATTEMPTS = 10
"""Calls per request, the first included, before a throttled request is an error."""
CONFLICT_RETRIES = 64
"""Re-reads after a conditional write lost a race, before giving up (a person retries)."""
SCHEMA_ITEM = {"pk": "META", "sk": "schema"}
TABLE_SCHEMA_VERSION = 1


class Conflict(Exception):
    """A conditional write found the item changed: re-read and try again."""


_SESSION_LOCK = threading.Lock()
_SESSIONS: dict[tuple[str | None, ...], Any] = {}


def _session(boto3: Any) -> Any:
    """One boto3 session per process and credential environment: a new session loads
    botocore's service models again (about 0.1 s a ledger). Sessions are not thread-safe,
    so clients are made under a lock; the clients themselves are."""
    key = tuple(os.environ.get(name) for name in _CREDENTIAL_ENVIRONMENT)
    with _SESSION_LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = boto3.session.Session()
        return _SESSIONS[key]


# What a session resolves once and keeps: a change of these makes a new session.
_CREDENTIAL_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


class DynamoTable:
    """A thin client of one table: typed values in and out, errors as ``LedgerError``."""

    def __init__(self, location: LedgerLocation) -> None:
        import boto3
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
        from botocore.config import Config

        assert location.table is not None
        assert location.region is not None
        self.location = location
        self.name = location.table
        self.client = _session(boto3).client(
            "dynamodb",
            region_name=location.region,
            config=Config(
                retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
                connect_timeout=5,
                read_timeout=20,
            ),
        )
        self._to = TypeSerializer()
        self._from = TypeDeserializer()

    # -- values ---------------------------------------------------------------------

    def encode(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._to.serialize(v) for k, v in item.items() if v is not None}

    def decode(self, item: Mapping[str, Any]) -> dict[str, Any]:
        values = {k: self._from.deserialize(v) for k, v in item.items()}
        return {k: int(v) if isinstance(v, Decimal) else v for k, v in values.items()}

    def values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._to.serialize(v) for k, v in values.items()}

    # -- calls ----------------------------------------------------------------------

    def call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One API call on this table; a failed condition is :class:`Conflict`."""
        from botocore.exceptions import BotoCoreError, ClientError

        method = getattr(self.client, operation)
        try:
            return dict(method(**params))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                raise Conflict(code) from None
            if code == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if any(r in ("ConditionalCheckFailed", "TransactionConflict") for r in reasons):
                    raise Conflict(",".join(str(r) for r in reasons)) from None
            raise self._error(code, str(exc)) from None
        except BotoCoreError as exc:
            raise LedgerError(f"the ledger table {self.name} cannot be reached: {exc}") from None

    def _error(self, code: str, text: str) -> LedgerError:
        where = f"{self.name} ({self.location.region})"
        if code == "ResourceNotFoundException":
            return LedgerError(
                f"the ledger table {where} does not exist; create it with `sre ledger init`"
            )
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            return LedgerError(
                f"access to the ledger table {where} was refused ({code}); see docs/ledger.md "
                "for the IAM permissions it needs"
            )
        return LedgerError(f"the ledger table {where} failed: {text}")

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        found = self.call(
            "get_item",
            TableName=self.name,
            Key=self.encode({"pk": pk, "sk": sk}),
            ConsistentRead=True,
        )
        item = found.get("Item")
        return None if item is None else self.decode(item)

    def query(self, pk: str, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every item of one partition, by sort key, read consistently."""
        params: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": self.values({":pk": pk}),
            "ConsistentRead": True,
        }
        if limit is not None:
            params["Limit"] = limit
        while True:
            page = self.call("query", **params)
            for item in page.get("Items", []):
                yield self.decode(item)
            if limit is not None or "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def put(
        self,
        item: Mapping[str, Any],
        *,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        params: dict[str, Any] = {"TableName": self.name, "Item": self.encode(item)}
        if condition:
            params["ConditionExpression"] = condition
        if values:
            params["ExpressionAttributeValues"] = self.values(values)
        self.call("put_item", **params)

    def update(
        self,
        pk: str,
        sk: str,
        expression: str,
        *,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
        condition: str | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "TableName": self.name,
            "Key": self.encode({"pk": pk, "sk": sk}),
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW",
        }
        if values:
            params["ExpressionAttributeValues"] = self.values(values)
        if names:
            params["ExpressionAttributeNames"] = dict(names)
        if condition:
            params["ConditionExpression"] = condition
        return self.decode(self.call("update_item", **params).get("Attributes", {}))

    def transact(self, actions: list[dict[str, Any]]) -> None:
        """All or nothing; any failed condition is :class:`Conflict`."""
        for action in actions:
            for body in action.values():
                body["TableName"] = self.name
                for part in ("Item", "Key"):
                    if part in body:
                        body[part] = self.encode(body[part])
                if "ExpressionAttributeValues" in body:
                    body["ExpressionAttributeValues"] = self.values(
                        body["ExpressionAttributeValues"]
                    )
        self.call("transact_write_items", TransactItems=actions)

    def take_lease(self, lease: Lease) -> None:
        """Take a lease on its own (:class:`Conflict` while someone else's runs)."""
        self.update(
            lease.pk,
            lease.sk,
            lease.expression,
            values=lease.values,
            condition=lease.condition_expression,
        )

    def next_id(self, counter: str) -> int:
        """A new id from an atomic counter (``UpdateItem ADD``): two runners never get the
        same one; an id taken by a runner that then lost a race stays unused."""
        item = self.update("COUNTER", counter, "ADD #v :one", values={":one": 1}, names={"#v": "v"})
        return int(item["v"])

    def is_empty(self) -> bool:
        page = self.call("scan", TableName=self.name, Limit=2, ConsistentRead=True)
        items = [self.decode(i) for i in page.get("Items", [])]
        return not [i for i in items if (i["pk"], i["sk"]) != ("META", "schema")] and (
            "LastEvaluatedKey" not in page or len(items) == 0
        )


@dataclass(frozen=True)
class Lease:
    """A lease on one item, the one lease mechanism of the table (outbox entries, ticket
    claims): ``claimed_by`` and ``claimed_until`` are set only while nobody's lease runs
    (``claimed_until`` absent or ``<= now``) and ``condition`` holds; a holder that dies
    blocks the item until ``claimed_until``. Give it up by removing both attributes."""

    pk: str
    sk: str
    owner: str
    until: str
    now: str
    condition: str | None = None
    also: Mapping[str, Any] = field(default_factory=dict)
    """Further attributes to set with the lease."""

    @property
    def expression(self) -> str:
        extra = "".join(f", {name} = :lease_{name}" for name in self.also)
        return f"SET claimed_by = :lease_owner, claimed_until = :lease_until{extra}"

    @property
    def condition_expression(self) -> str:
        free = "(attribute_not_exists(claimed_until) OR claimed_until <= :lease_now)"
        return f"{self.condition} AND {free}" if self.condition else free

    @property
    def values(self) -> dict[str, Any]:
        return {
            ":lease_owner": self.owner,
            ":lease_until": self.until,
            ":lease_now": self.now,
            **{f":lease_{name}": value for name, value in self.also.items()},
        }


def pause(attempt: int) -> None:
    """Jittered backoff between re-reads after a lost race."""
    time.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.2)))  # noqa: S311 - jitter only


def change_sk(change_id: int) -> str:
    return f"{change_id:020d}"
