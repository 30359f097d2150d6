"""A stand-in ``pulumi`` executable for testing the Automation API adapter.

No Pulumi CLI can be installed on these machines, so tests put this script on PATH. It
answers only what the Automation API asks during a preview (``version``, ``stack
select``, ``preview``) and replays recorded real output: a ``--json`` document on stdout
and engine events into the ``--event-log`` file. It reports a CLI version that uses the
file-based event log rather than gRPC.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

SCRIPT = """#!{python}
import json, sys
config = json.load(open({config!r}))
args = [a for a in sys.argv[1:] if a != "--non-interactive"]
with open(config["calls"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:1] == ["version"]:
    print("v3.200.0")
    sys.exit(0)
if args[:2] == ["stack", "select"]:
    sys.exit(0)
if args[:1] == ["preview"]:
    if config.get("fail"):
        print(config["fail"], file=sys.stderr)
        sys.exit(255)
    with open(args[args.index("--event-log") + 1], "w") as events:
        events.write(open(config["events"]).read())
    if "--save-plan" in args:
        open(args[args.index("--save-plan") + 1], "w").write("{{}}")
    sys.stdout.write(open(config["stdout"]).read())
    sys.exit(0)
print("unexpected pulumi call:", args, file=sys.stderr)
sys.exit(2)
"""


def install_fake_pulumi(
    bin_dir: Path, *, stdout: Path, events: Path, fail: str | None = None
) -> Path:
    """Write ``bin_dir/pulumi``; returns the file where each call's arguments are logged."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls = bin_dir / "calls.jsonl"
    config = bin_dir / "fake-pulumi.json"
    config.write_text(
        json.dumps(
            {"stdout": str(stdout), "events": str(events), "calls": str(calls), "fail": fail}
        )
    )
    script = bin_dir / "pulumi"
    script.write_text(SCRIPT.format(python=sys.executable, config=str(config)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return calls
