"""The tags every platform component puts on its AWS resources: who owns it, which team
pays, which environment it belongs to, and that this project manages it (what
``sre env orphans`` and the tagging policy look for)."""

from __future__ import annotations

from components.test_environment.metadata import MANAGED_BY


def platform_tags(owner: str, team: str, environment: str, **more: str) -> dict[str, str]:
    """``owner``, ``team``, ``environment``, ``managed-by``, then ``more`` (dashes for
    underscores in the keys: ``cluster_id`` → ``cluster-id``)."""
    return {
        "owner": owner,
        "team": team,
        "environment": environment,
        "managed-by": MANAGED_BY,
        **{key.replace("_", "-"): value for key, value in more.items()},
    }
