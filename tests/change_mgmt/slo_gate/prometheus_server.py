"""A real Prometheus (Debian package ``prometheus``) on loopback over backfilled SLO data.

Raw series go in as OpenMetrics (``promtool tsdb create-blocks-from openmetrics``); the
recording rules ``sre slo rules`` prints are backfilled with ``promtool tsdb
create-blocks-from rules``, which queries a running Prometheus for its input. Rules
there cannot see each other's results (Prometheus's backfilling docs: "rules that refer
to other rules being backfilled is not supported"; backfill the dependencies first), so
the rules are backfilled in layers (those reading only raw series, then those reading
the first layer, ...), each layer's blocks moved into the data directory and Prometheus
restarted before the next. The rules themselves are the generated ones, unchanged; only
those the series a test reads depend on are backfilled (the multiwindow alert rates
over days of raw samples cost most of the time and nothing here reads them).
Missing binaries skip the tests only outside CI (``.ci/run`` installs them).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

CONFIG = "global:\n  scrape_interval: 1m\nscrape_configs: []\n"
STARTUP_SECONDS = 30
Rule = dict[str, Any]


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing in CI: .ci/run must install the prometheus package")
        pytest.skip(f"{name} not installed (apt-get install prometheus); CI does not skip this")
    return found


def free_port() -> int:
    """A loopback port nothing listens on (bound, noted, closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def promtool(*args: str | Path, cwd: Path) -> None:
    result = subprocess.run(
        [binary("promtool"), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"promtool {args[:3]} failed:\n{result.stdout}\n{result.stderr}")


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def serving(data_dir: Path, workdir: Path) -> Iterator[Prometheus]:
    """``prometheus`` over ``data_dir`` on a free loopback port until the block ends; it
    is stopped whatever happens (terminate, then kill)."""
    config = workdir / "prometheus.yml"
    config.write_text(CONFIG)
    for _attempt in range(3):  # another process may take the free port first
        port = free_port()
        log = (workdir / f"prometheus-{port}.log").open("wb")
        process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={data_dir}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=100y",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            if _ready(url, process):
                yield Prometheus(url, process)
                return
        finally:
            _stop(process)
            log.close()
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in workdir.glob("*.log"))
    raise AssertionError(f"prometheus did not start:\n{logs}")


def _ready(url: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _reads(expr: str, names: Collection[str]) -> set[str]:
    """The series of ``names`` that PromQL ``expr`` reads."""
    return {n for n in names if re.search(re.escape(n) + r"(?![A-Za-z0-9_:])", expr)}


def _needed_by(rules: list[tuple[str, Rule]], series: Collection[str]) -> set[str]:
    """The recorded series ``series`` depend on (themselves included), however indirectly."""
    names = {r["record"] for _, r in rules}
    needed, todo = set(), set(series)
    while todo:
        name = todo.pop()
        needed.add(name)
        for _, rule in rules:
            if rule["record"] == name:
                todo |= _reads(rule["expr"], names) - needed
    return needed


def rule_layers(
    groups: Sequence[dict[str, Any]], needed: Collection[str] | None = None
) -> list[list[dict[str, Any]]]:
    """The recording rules of ``groups`` as rule groups per layer: layer 0 reads only raw
    series, layer n reads series of layers below n. Alerts are left out (not backfilled),
    and so are rules none of the ``needed`` series depend on (when given)."""
    rules = [(g["name"], r) for g in groups for r in g["rules"] if "record" in r]
    if needed is not None:
        unknown = set(needed) - {r["record"] for _, r in rules}
        assert not unknown, f"no recording rule records {sorted(unknown)}"
        wanted = _needed_by(rules, needed)
        rules = [(group, rule) for group, rule in rules if rule["record"] in wanted]
    names = {r["record"] for _, r in rules}
    reads = {index: _reads(r["expr"], names) for index, (_, r) in enumerate(rules)}
    level: dict[int, int] = {}
    while len(level) < len(rules):
        done = {n for n in names if all(rules[i][1]["record"] != n or i in level for i in reads)}
        ready = [i for i in reads if i not in level and reads[i] <= done]
        assert ready, "the recording rules read each other in a cycle"
        for i in ready:
            below = [level[j] for j in level if rules[j][1]["record"] in reads[i]]
            level[i] = 1 + max(below, default=-1)
    layers: list[list[dict[str, Any]]] = [[] for _ in range(max(level.values()) + 1)]
    for index, (group_name, rule) in enumerate(rules):
        layer = layers[level[index]]
        if not layer or layer[-1]["name"] != group_name:
            layer.append({"name": group_name, "rules": []})
        layer[-1]["rules"].append(rule)
    return layers


def build_tsdb(
    openmetrics: str,
    rule_file: str,
    start: datetime,
    end: datetime,
    workdir: Path,
    *,
    needed: Collection[str] | None = None,
) -> Path:
    """A TSDB directory holding the raw series and the recording rules of ``rule_file``
    (text of a Prometheus rule file) evaluated from ``start`` to ``end``: every one, or
    those the ``needed`` series depend on."""
    data = workdir / "data"
    (workdir / "raw.om").write_text(openmetrics)
    promtool("tsdb", "create-blocks-from", "openmetrics", "raw.om", data, cwd=workdir)
    groups = yaml.safe_load(rule_file)["groups"]
    for number, layer in enumerate(rule_layers(groups, needed)):
        rules = workdir / f"rules-{number}.yaml"
        rules.write_text(yaml.safe_dump({"groups": layer}, sort_keys=False))
        out = workdir / f"backfill-{number}"
        with serving(data, workdir) as prometheus:
            promtool(
                "tsdb",
                "create-blocks-from",
                "rules",
                f"--start={start.isoformat()}",
                f"--end={end.isoformat()}",
                f"--url={prometheus.url}",
                f"--output-dir={out}",
                "--eval-interval=60s",
                rules,
                cwd=workdir,
            )
        for block in out.iterdir():
            block.rename(data / block.name)
    return data
