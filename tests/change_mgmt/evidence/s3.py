"""moto for the evidence tests: fake credentials, in-process or as a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

REGION = "eu-central-1"
BUCKET = "acme-change-evidence"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
# Settings of the machine that must not reach a test's SDK.
AMBIENT = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CONFIG_FILE")


def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AMBIENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)


def make_bucket(client: Any, name: str = BUCKET) -> None:
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def all_objects(client: Any, bucket: str = BUCKET) -> dict[str, list[bytes]]:
    """Every version of every object: key → bodies, oldest first."""
    found: dict[str, list[tuple[Any, bytes]]] = {}
    listing = client.list_object_versions(Bucket=bucket)
    for version in listing.get("Versions", []):
        body = client.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])[
            "Body"
        ].read()
        found.setdefault(version["Key"], []).append((version["LastModified"], body))
    return {
        key: [body for _, body in sorted(items, key=lambda i: i[0])] for key, items in found.items()
    }


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on loopback (a free port); yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
