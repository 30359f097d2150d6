"""A stand-in ``pulumi`` executable for testing the Automation API adapter.

No Pulumi CLI can be installed on these machines, so tests put this script on PATH. It
answers only what the Automation API asks for a preview and an update (``version``,
``stack select``, ``stack --show-name``, ``preview``, ``up``, ``stack history``,
``stack output``) and replays recorded real output: a ``--json`` document on stdout and
engine events into the ``--event-log`` file. It reports a CLI version that uses the file-based event log rather
than gRPC, and logs every call with the gate receipt it was given (``$SRE_GATE_RECEIPT``)
so tests can check exactly what reached the program (``--policy-pack`` included).

Like the real CLI, a preview fails (exit 255, no plan saved) when a ``--policy-pack``
directory holds no pack, when the recorded events carry a mandatory policy violation or
a failed summary, and when ``fail`` is given (an error diagnostic and a failed summary).
Like the engine, it ends every event log with a ``cancelEvent`` (without one the
Automation API waits 5 s for its log watcher before giving up on it).

Like a DIY backend, it names a bare stack ``organization/<project of ./Pulumi.yaml>/S``
and keeps a name that already has three parts. The stack has one secret output
(``dbPassword``): masked as ``[secret]`` by ``up`` and ``stack output``, in plaintext
(:data:`SECRET_OUTPUT`) only with ``--show-secrets``.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_OUTPUT = "out-secret-plaintext"
"""The plaintext of the stack's secret output: it must never reach what ``sre`` prints."""

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
elif args[:1] == ["stack"] and "--show-name" in args:
    stack = args[args.index("--stack") + 1] if "--stack" in args else None
    if stack is None:
        print("error: no stack selected", file=sys.stderr)
        sys.exit(255)
    parts = stack.split("/")
    if "--fully-qualify-stack-names" in args and len(parts) < 3:
        try:
            settings = open("Pulumi.yaml").read()  # the project is the one in the cwd
        except FileNotFoundError:
            print("error: no Pulumi.yaml project file found", file=sys.stderr)
            sys.exit(255)
        project = next(
            line.split(":", 1)[1].strip() for line in settings.splitlines()
            if line.startswith("name:")
        )
        org = parts[0] if len(parts) == 2 else "organization"
        stack = f"{{org}}/{{project}}/{{parts[-1]}}"
    print(stack)
elif args[:1] == ["preview"]:
    packs = [args[i + 1] for i, arg in enumerate(args) if arg == "--policy-pack"]
    for pack in packs:
        if not os.path.isfile(os.path.join(pack, "PulumiPolicy.yaml")):
            write_events(CANCEL)  # the engine ends every event log with a cancel event
            print(f"error: could not load policy pack {{pack}}: no PulumiPolicy.yaml", file=sys.stderr)
            sys.exit(255)
    if config.get("fail"):  # the program or a provider failed: errors, a failed summary
        diagnostic = {{"severity": "error", "message": config["fail"] + "\n", "color": "never"}}
        summary = {{"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {{}}, "result": "failed"}}
        write_events("".join(json.dumps(e) + "\n" for e in (
            {{"sequence": 1, "timestamp": 1, "diagnosticEvent": diagnostic}},
            {{"sequence": 2, "timestamp": 1, "summaryEvent": summary}},
        )) + CANCEL)
        print(config["fail"], file=sys.stderr)
        sys.exit(255)
    events = open(config["events"]).read()
    decoded = [json.loads(line) for line in events.splitlines() if line.strip()]
    refused = any(
        e.get("policyEvent", {{}}).get("enforcementLevel") == "mandatory"
        or e.get("summaryEvent", {{}}).get("result") == "failed"
        for e in decoded
    )
    if not any("cancelEvent" in e for e in decoded):  # the engine always ends with one
        events += ("\n" if events and not events.endswith("\n") else "") + CANCEL
    write_events(events)
    sys.stdout.write(open(config["stdout"]).read())  # --json prints its document either way
    if refused:  # the engine fails a preview with mandatory violations: no plan, exit 255
        print("error: preview failed: mandatory policy violations", file=sys.stderr)
        sys.exit(255)
    if "--save-plan" in args:
        open(args[args.index("--save-plan") + 1], "w").write("{{}}")
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
    print("Outputs:")
    print("    dbPassword: [secret]")  # the CLI masks secret outputs
    print("")
    print("Resources: 1 updated")
elif args[:2] == ["stack", "history"]:
    print(json.dumps([{{
        "kind": "update", "startTime": "2026-11-27T10:00:00.000Z", "message": "",
        "environment": {{}}, "config": {{}}, "result": "succeeded",
        "endTime": "2026-11-27T10:00:05.000Z", "resourceChanges": {{"update": 1, "same": 15}},
        "version": 2,
    }}]))
elif args[:2] == ["stack", "output"]:
    value = {secret!r} if "--show-secrets" in args else "[secret]"
    print(json.dumps({{"dbPassword": value}}))
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
    script.write_text(
        SCRIPT.format(python=sys.executable, config=str(config), secret=SECRET_OUTPUT)
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return calls


def calls_of(calls: Path, command: str) -> list[dict[str, object]]:
    """The logged calls whose first argument is ``command``."""
    logged = [json.loads(line) for line in calls.read_text().splitlines()]
    return [call for call in logged if call["args"][:1] == [command]]


def with_policy_pack(project: Path) -> Path:
    """``project`` with the repository's policy pack (``policies/PulumiPolicy.yaml``): the
    gate's own preview always runs it, and this stand-in, like ``pulumi``, fails a
    preview whose ``--policy-pack`` holds no pack."""
    (project / "policies").mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "policies" / "PulumiPolicy.yaml", project / "policies")
    return project
