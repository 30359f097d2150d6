"""Every rule of the pack, by module; :data:`ALL_RULES` is what the pack and the harness run."""

from __future__ import annotations

from policies.model import Rule

ALL_RULES: tuple[Rule, ...] = ()
