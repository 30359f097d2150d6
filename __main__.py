"""Entry point of the sre-platform Pulumi program (see Pulumi.yaml and README.md)."""

from pathlib import Path

from stacks.program import run_stack

run_stack(Path(__file__).resolve().parent)
