"""A stand-in ``pulumi`` executable for testing the Automation API adapter.

No Pulumi CLI can be installed on these machines, so tests put this script on PATH. It
answers only what the Automation API asks for a preview and an update (``version``,
``stack select``, ``preview``, ``up``, ``stack history``, ``stack output``) and replays
recorded real output: a ``--json`` document on stdout and engine events into the
``--event-log`` file. It reports a CLI version that uses the file-based event log rather
than gRPC, and logs every call with the gate receipt it was given (``$SRE_GATE_RECEIPT``)
so tests can check exactly what reached the program.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

SCRIPT = r"""#!{python}
import json, os, sys
config = json.load(open({config!r}))
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
with open(config["calls"], "a") as log:
    log.write(json.dumps({{"args": args, "receipt": os.environ.get("SRE_GATE_RECEIPT")}}) + "\n")


CANCEL = json.dumps({{"sequence": 99, "timestamp": 2, "cancelEvent": {{}}}}) + "\n"


def write_events(text):
    if "--event-log" in args:  # only when the Automation API watches events
        with open(args[args.index("--event-log") + 1], "w") as events:
            events.write(text)


if args[:1] == ["version"]:
    print("v3.200.0")
elif args[:2] == ["stack", "select"]:
    pass
elif args[:1] == ["preview"]:
    if config.get("fail"):
        write_events(CANCEL)  # the engine ends every event log with a cancel event
        print(config["fail"], file=sys.stderr)
        sys.exit(255)
    write_events(open(config["events"]).read())
    if "--save-plan" in args:
        open(args[args.index("--save-plan") + 1], "w").write("{{}}")
    sys.stdout.write(open(config["stdout"]).read())
elif args[:1] == ["up"]:
    if "--plan" not in args:
        print("error: no --plan given", file=sys.stderr)
        sys.exit(3)
    print("Updating (prod):")
    print("  provider: connecting to postgres://deploy:hunter2-leak@db.internal/app")
    if config.get("up_fail"):
        write_events(CANCEL)
        print(config["up_fail"], file=sys.stderr)
        sys.exit(255)
    summary = {{"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {{"update": 1}}}}
    write_events(json.dumps({{"sequence": 1, "timestamp": 1, "summaryEvent": summary}}) + "\n" + CANCEL)
    print("Resources: 1 updated")
elif args[:2] == ["stack", "history"]:
    print(json.dumps([{{
        "kind": "update", "startTime": "2026-11-27T10:00:00.000Z", "message": "",
        "environment": {{}}, "config": {{}}, "result": "succeeded",
        "endTime": "2026-11-27T10:00:05.000Z", "resourceChanges": {{"update": 1, "same": 15}},
        "version": 2,
    }}]))
elif args[:2] == ["stack", "output"]:
    print("{{}}")
else:
    print("unexpected pulumi call:", args, file=sys.stderr)
    sys.exit(2)
"""


def install_fake_pulumi(
    bin_dir: Path,
    *,
    stdout: Path,
    events: Path,
    fail: str | None = None,
    up_fail: str | None = None,
) -> Path:
    """Write ``bin_dir/pulumi``; returns the file where each call is logged (JSON lines of
    ``{"args": [...], "receipt": ...}``)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls = bin_dir / "calls.jsonl"
    config = bin_dir / "fake-pulumi.json"
    config.write_text(
        json.dumps(
            {
                "stdout": str(stdout),
                "events": str(events),
                "calls": str(calls),
                "fail": fail,
                "up_fail": up_fail,
            }
        )
    )
    script = bin_dir / "pulumi"
    script.write_text(SCRIPT.format(python=sys.executable, config=str(config)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return calls


def calls_of(calls: Path, command: str) -> list[dict[str, object]]:
    """The logged calls whose first argument is ``command``."""
    logged = [json.loads(line) for line in calls.read_text().splitlines()]
    return [call for call in logged if call["args"][:1] == [command]]
