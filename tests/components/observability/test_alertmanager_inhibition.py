"""Inhibition, proven on a real Alertmanager: amtool has no command that tests it.

The Debian ``prometheus-alertmanager`` runs on loopback with the generated configuration
(clustering off); alerts are posted to its v2 API, which reports for each alert which
alerts inhibit it. No notification goes out during the test: every group_wait is longer.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.components.observability.samples import SECRETS, write_config
from tests.components.observability.tools import require_tool


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A fresh Alertmanager per test: an alert posted by one test would inhibit the next's."""
    binary = require_tool("prometheus-alertmanager")
    workdir = tmp_path
    config = write_config(workdir)
    port = _free_port()
    log = (workdir / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api/v2"
    try:
        _wait_ready(url, process, workdir / "alertmanager.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
    logged = (workdir / "alertmanager.log").read_text()
    assert not any(secret in logged for secret in SECRETS), "Alertmanager logged a webhook URL"


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"alertmanager exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/status", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"alertmanager did not answer in 20 s: {log.read_text()}")


def inhibited(url: str, *alerts: dict[str, str]) -> list[bool]:
    """Post firing ``alerts`` (their labels); which of them Alertmanager says are inhibited."""
    posted = httpx.post(f"{url}/alerts", json=[{"labels": labels} for labels in alerts])
    assert posted.status_code == 200, posted.text
    found = httpx.get(f"{url}/alerts").json()
    status = {tuple(sorted(a["labels"].items())): a["status"]["inhibitedBy"] for a in found}
    assert len(status) == len(alerts)
    return [bool(status[tuple(sorted(labels.items()))]) for labels in alerts]


SLO = {"alertname": "ChatAvailability", "sloth_id": "chat-availability", "clusterID": "cnc-1"}


def test_an_slo_page_inhibits_the_ticket_of_the_same_slo_and_cluster(alertmanager: str) -> None:
    page = SLO | {"sloth_severity": "page"}
    ticket = SLO | {"sloth_severity": "ticket"}
    other_cluster = ticket | {"clusterID": "customer-7"}
    other_slo = ticket | {"sloth_id": "chat-latency"}
    assert inhibited(alertmanager, page, ticket, other_cluster, other_slo) == [
        False,
        True,
        False,
        False,
    ]


def test_a_ticket_alone_is_not_inhibited(alertmanager: str) -> None:
    assert inhibited(alertmanager, SLO | {"sloth_severity": "ticket"}) == [False]


def test_a_page_by_severity_inhibits_a_ticket_by_either_label(alertmanager: str) -> None:
    rule = {"alertname": "EtcdHighLatency", "cluster": "prod-eks-1"}
    page = rule | {"severity": "Page"}
    ticket = rule | {"severity": "ticket"}
    sloth_ticket = rule | {"sloth_severity": "ticket"}
    other_alert = ticket | {"alertname": "EtcdDiskFull"}
    assert inhibited(alertmanager, page, ticket, sloth_ticket, other_alert) == [
        False,
        True,
        True,
        False,
    ]


def test_a_page_is_never_inhibited_even_when_it_also_says_ticket(alertmanager: str) -> None:
    both = SLO | {"severity": "ticket", "sloth_severity": "page"}
    page = SLO | {"severity": "page", "sloth_severity": "page", "extra": "x"}
    assert inhibited(alertmanager, page, both) == [False, False]
