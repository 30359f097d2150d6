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

Given ``stacks`` it is also a backend with state for the environment lifecycle, answering
exactly the argv the SDK's ``LocalWorkspace``/``Stack`` send: ``stack select --stack S``
(``--create`` too), ``stack init S``, ``stack ls --json``, ``config set K --secret|--plaintext
--stack S -- V``, ``config set-all --stack S --plaintext K=V ...``, ``up --yes
--skip-preview``, ``destroy --skip-preview --yes``, ``stack rm --yes [--force] S`` and
``preview --refresh --expect-no-changes``. It fails where the real CLI fails: selecting a
stack that does not exist ("no stack named 'S' found", which the SDK turns into
``StackNotFoundError``), ``stack init`` of one that does, ``stack rm`` of a stack that
still has resources without ``--force``, a second update of a stack being updated (the
backend's stack lock), a destroy fault (exit 255, half the resources left), and
``--expect-no-changes`` when the replayed preview has changes.
"""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET_OUTPUT = "out-secret-plaintext"
"""The plaintext of the stack's secret output: it must never reach what ``sre`` prints."""

SCRIPT_HEADER = """#!{python}
CONFIG_PATH = {config!r}
SECRET = {secret!r}
"""

SCRIPT_BODY = r"""
import contextlib, fcntl, json, os, sys, time
from datetime import datetime, timezone

config = json.load(open(CONFIG_PATH))
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
with open(config["calls"], "a") as log:
    log.write(json.dumps({"args": args, "receipt": os.environ.get("SRE_GATE_RECEIPT")}) + "\n")

CANCEL = json.dumps({"sequence": 99, "timestamp": 2, "cancelEvent": {}}) + "\n"
STATEFUL = config.get("state") is not None


def write_events(text):
    if "--event-log" in args:  # only when the Automation API watches events
        with open(args[args.index("--event-log") + 1], "w") as events:
            events.write(text)


def option(name):
    return args[args.index(name) + 1] if name in args else None


def die(message, code=255):
    write_events(CANCEL)
    print(message, file=sys.stderr)
    sys.exit(code)


@contextlib.contextmanager
def state():
    # One writer at a time, across the processes a parallel reaper starts.
    with open(config["state"] + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.load(open(config["state"]))
        yield data
        with open(config["state"] + ".tmp", "w") as new:
            json.dump(data, new)
        os.replace(config["state"] + ".tmp", config["state"])


def now_text():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def existing(data, stack):
    if stack not in data["stacks"]:
        die(f"error: no stack named '{stack}' found")
    return data["stacks"][stack]


def begin_update(stack):
    # Like a backend's stack lock: a second update of a stack that is being updated fails.
    with state() as data:
        entry = existing(data, stack)
        if entry.get("locked"):
            die(f"error: the stack is currently locked by 1 lock(s). Either wait for the "
                f"other process(es) to end or delete the lock file with `pulumi cancel`.")
        entry["locked"] = True
        return dict(entry)


def end_update(stack, change, kind, changes, result="succeeded"):
    with state() as data:
        entry = data["stacks"][stack]
        entry["locked"] = False
        entry["lastUpdate"] = now_text()
        change(entry, data)
        entry["history"] = {
            "kind": kind, "startTime": entry["lastUpdate"], "message": "", "environment": {},
            "config": {}, "result": result, "endTime": entry["lastUpdate"],
            "resourceChanges": {op: n for op, n in changes.items() if n},
            "version": entry.get("version", 0) + 1,
        }
        entry["version"] = entry["history"]["version"]


def summary_events(changes, result=None):
    summary = {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": changes}
    if result:
        summary["result"] = result
    return json.dumps({"sequence": 1, "timestamp": 1, "summaryEvent": summary}) + "\n" + CANCEL


def config_set_all(stack, pairs):
    with state() as data:
        entry = existing(data, stack)
        for secret, pair in pairs:
            key, _, value = pair.partition("=")
            entry.setdefault("config", {})[key] = {"value": value, "secret": secret}


if args[:1] == ["version"]:
    print("v3.200.0")
elif args[:2] == ["stack", "select"]:
    stack = option("--stack")
    if STATEFUL:
        with state() as data:
            if stack not in data["stacks"]:
                if "--create" not in args:
                    die(f"error: no stack named '{stack}' found")
                data["stacks"][stack] = {"resources": 0, "config": {}}
elif args[:2] == ["stack", "init"]:
    stack = args[2]
    if not STATEFUL:
        die("unexpected pulumi call: stack init without a stack state", 2)
    with state() as data:
        if stack in data["stacks"]:
            die(f"error: stack '{stack}' already exists")
        data["stacks"][stack] = {"resources": 0, "config": {}}
elif args[:2] == ["stack", "ls"]:
    if not STATEFUL or "--json" not in args:
        die("unexpected pulumi call: " + repr(args), 2)
    if config.get("ls_fail"):
        die(config["ls_fail"])
    with state() as data:
        listed = []
        for name, entry in sorted(data["stacks"].items()):
            row = {"name": name, "current": False, "updateInProgress": bool(entry.get("locked")),
                   "resourceCount": entry.get("resources", 0)}
            if entry.get("lastUpdate"):
                row["lastUpdate"] = entry["lastUpdate"]
            listed.append(row)
    print(json.dumps(listed, indent=4))
elif args[:2] == ["stack", "rm"]:
    stack = [a for a in args[2:] if not a.startswith("--")][-1]
    with state() as data:
        entry = existing(data, stack)
        if entry.get("resources", 0) and "--force" not in args:
            die(f"error: '{stack}' still has resources; removal rejected. Possible actions:\n"
                f"- Make sure that '{stack}' is the stack that you want to destroy\n"
                "- Run `pulumi destroy` to delete the resources, then run `pulumi stack rm`\n"
                "- Run `pulumi stack rm --force` to override this error")
        if config.get("rm_fail"):
            die(config["rm_fail"])
        del data["stacks"][stack]
    print(f"Stack '{stack}' has been removed!")
elif args[:2] == ["config", "set"]:
    stack = option("--stack")
    value = args[args.index("--") + 1]
    key = args[2]
    secret = "--secret" in args[: args.index("--")]
    config_set_all(stack, [(secret, f"{key}={value}")])
elif args[:2] == ["config", "set-all"]:
    stack = option("--stack")
    pairs = [(args[i] == "--secret", args[i + 1]) for i, a in enumerate(args)
             if a in ("--secret", "--plaintext")]
    config_set_all(stack, pairs)
elif args[:1] == ["stack"] and "--show-name" in args:
    stack = option("--stack")
    if stack is None:
        die("error: no stack selected")
    parts = stack.split("/")
    if "--fully-qualify-stack-names" in args and len(parts) < 3:
        try:
            settings = open("Pulumi.yaml").read()  # the project is the one in the cwd
        except FileNotFoundError:
            die("error: no Pulumi.yaml project file found")
        project = next(
            line.split(":", 1)[1].strip() for line in settings.splitlines()
            if line.startswith("name:")
        )
        org = parts[0] if len(parts) == 2 else "organization"
        stack = f"{org}/{project}/{parts[-1]}"
    print(stack)
elif args[:1] == ["preview"]:
    packs = [args[i + 1] for i, arg in enumerate(args) if arg == "--policy-pack"]
    for pack in packs:
        if not os.path.isfile(os.path.join(pack, "PulumiPolicy.yaml")):
            die(f"error: could not load policy pack {pack}: no PulumiPolicy.yaml")
    if config.get("fail"):  # the program or a provider failed: errors, a failed summary
        diagnostic = {"severity": "error", "message": config["fail"] + "\n", "color": "never"}
        summary = {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": {}, "result": "failed"}
        write_events("".join(json.dumps(e) + "\n" for e in (
            {"sequence": 1, "timestamp": 1, "diagnosticEvent": diagnostic},
            {"sequence": 2, "timestamp": 1, "summaryEvent": summary},
        )) + CANCEL)
        print(config["fail"], file=sys.stderr)
        sys.exit(255)
    events = open(config["events"]).read()
    decoded = [json.loads(line) for line in events.splitlines() if line.strip()]
    refused = any(
        e.get("policyEvent", {}).get("enforcementLevel") == "mandatory"
        or e.get("summaryEvent", {}).get("result") == "failed"
        for e in decoded
    )
    if not any("cancelEvent" in e for e in decoded):  # the engine always ends with one
        events += ("\n" if events and not events.endswith("\n") else "") + CANCEL
    write_events(events)
    document = open(config["stdout"]).read()
    sys.stdout.write(document)  # --json prints its document either way
    if refused:  # the engine fails a preview with mandatory violations: no plan, exit 255
        print("error: preview failed: mandatory policy violations", file=sys.stderr)
        sys.exit(255)
    if "--expect-no-changes" in args:
        try:
            parsed = json.loads(document[document.index("{"):])
        except ValueError:
            parsed = {}
        steps = [s for s in parsed.get("steps") or [] if s.get("op") != "same"]
        counts = {op: n for op, n in (parsed.get("changeSummary") or {}).items() if op != "same"}
        if steps or any(counts.values()):
            print("error: no changes were expected but changes occurred", file=sys.stderr)
            sys.exit(255)
    if "--save-plan" in args:
        open(args[args.index("--save-plan") + 1], "w").write("{}")
elif args[:1] == ["up"]:
    if STATEFUL:
        stack = option("--stack")
        entry = begin_update(stack)
        print(f"Updating ({stack}):")
        for key, value in sorted(entry.get("config", {}).items()):
            print(f"    config {key} = {'[secret]' if value['secret'] else value['value']}")
        fault = entry.get("up_fail") or config.get("up_fail")
        created = entry.get("up_resources", 5)
        before = entry.get("resources", 0)
        if fault:
            half = max(before, created // 2)
            end_update(stack, lambda e, d: e.update(resources=half), "update",
                       {"create": half - before}, "failed")
            die(fault)
        changes = {"create": max(created - before, 0), "same": min(before, created)}
        end_update(stack, lambda e, d: e.update(resources=created), "update", changes)
        write_events(summary_events({k: v for k, v in changes.items() if v}))
        print(f"Resources: {changes['create']} created")
        sys.exit(0)
    if "--plan" not in args:
        print("error: no --plan given", file=sys.stderr)
        sys.exit(3)
    print("Updating (prod):")
    print("  provider: connecting to postgres://deploy:hunter2-leak@db.internal/app")
    if config.get("up_fail"):
        die(config["up_fail"])
    write_events(summary_events({"update": 1}))
    print("Outputs:")
    print("    dbPassword: [secret]")  # the CLI masks secret outputs
    print("")
    print("Resources: 1 updated")
elif args[:1] == ["destroy"]:
    if not STATEFUL or "--yes" not in args:
        die("unexpected pulumi call: " + repr(args), 2)
    stack = option("--stack")
    entry = begin_update(stack)
    started = time.time()
    print(f"Destroying ({stack}):")
    time.sleep(entry.get("destroy_seconds", 0))
    count = entry.get("resources", 0)
    fault = entry.get("destroy_fail")

    def finish(e, d, left):
        e["resources"] = left
        e["destroyed"] = e.get("destroyed", 0) + (count - left)
        d.setdefault("destroys", []).append({"stack": stack, "start": started, "end": time.time()})

    if fault:  # halfway: some resources are gone, the rest stay in the stack
        left = max(1, count - count // 2) if count else 0
        end_update(stack, lambda e, d: finish(e, d, left), "destroy", {"delete": count - left},
                   "failed")
        die(f"error: update failed\n{fault}")
    end_update(stack, lambda e, d: finish(e, d, 0), "destroy", {"delete": count})
    write_events(summary_events({"delete": count} if count else {}))
    print(f"Resources: {count} deleted")
elif args[:2] == ["stack", "history"] and STATEFUL:
    with state() as data:
        last = existing(data, option("--stack")).get("history")
    print(json.dumps([last] if last else []))
elif args[:2] == ["stack", "history"]:
    print(json.dumps([{
        "kind": "update", "startTime": "2026-11-27T10:00:00.000Z", "message": "",
        "environment": {}, "config": {}, "result": "succeeded",
        "endTime": "2026-11-27T10:00:05.000Z", "resourceChanges": {"update": 1, "same": 15},
        "version": 2,
    }]))
elif args[:2] == ["stack", "output"]:
    value = SECRET if "--show-secrets" in args else "[secret]"
    outputs = {"dbPassword": value}
    if STATEFUL:
        stack = option("--stack")
        outputs["url"] = f"https://{stack.removeprefix('env-')}.test.example.com"
    print(json.dumps(outputs))
else:
    print("unexpected pulumi call:", args, file=sys.stderr)
    sys.exit(2)
"""


def install_fake_pulumi(
    bin_dir: Path,
    *,
    stdout: Path | None = None,
    events: Path | None = None,
    fail: str | None = None,
    up_fail: str | None = None,
    stacks: dict[str, dict[str, Any]] | None = None,
    ls_fail: str | None = None,
    rm_fail: str | None = None,
) -> Path:
    """Write ``bin_dir/pulumi``; returns the file where each call is logged (JSON lines of
    ``{"args": [...], "receipt": ...}``).

    ``stacks`` makes it a backend with state (see :func:`stack_state`): the stacks that
    exist, each ``{"resources": n, ...}`` with optional faults ``up_fail``,
    ``destroy_fail`` (a destroy that fails halfway), ``destroy_seconds`` (a slow one) and
    ``up_resources`` (what an update leaves). Without it every stack exists and ``up``
    demands a ``--plan`` (what the gate's tests expect).
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls = bin_dir / "calls.jsonl"
    config = bin_dir / "fake-pulumi.json"
    state = None
    if stacks is not None:
        state = bin_dir / "state.json"
        state.write_text(json.dumps({"stacks": stacks}))
    config.write_text(
        json.dumps(
            {
                "stdout": str(stdout) if stdout else None,
                "events": str(events) if events else None,
                "calls": str(calls),
                "fail": fail,
                "up_fail": up_fail,
                "state": str(state) if state else None,
                "ls_fail": ls_fail,
                "rm_fail": rm_fail,
            }
        )
    )
    script = bin_dir / "pulumi"
    header = SCRIPT_HEADER.format(python=sys.executable, config=str(config), secret=SECRET_OUTPUT)
    script.write_text(header + SCRIPT_BODY)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return calls


def stack_state(bin_dir: Path) -> dict[str, Any]:
    """What the stand-in backend holds now: ``{"stacks": {...}, "destroys": [...]}``, each
    destroy with its start and end time (to measure how many ran at once)."""
    data: dict[str, Any] = json.loads((bin_dir / "state.json").read_text())
    return data


def update_stack(bin_dir: Path, stack: str, **fields: Any) -> None:
    """Change one stack of the stand-in backend (add it if missing), e.g. to clear a fault."""
    data = stack_state(bin_dir)
    data["stacks"].setdefault(stack, {"resources": 0, "config": {}}).update(fields)
    (bin_dir / "state.json").write_text(json.dumps(data))


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
