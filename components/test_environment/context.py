"""What every child-building function of the component needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from components.test_environment.args import TestEnvironmentArgs


@dataclass(frozen=True)
class EnvironmentContext:
    """The environment's name and args, its component, namespace output and AWS tags."""

    name: str
    args: TestEnvironmentArgs
    parent: pulumi.Resource
    namespace: pulumi.Output[str]
    tags: Mapping[str, str]

    def child_opts(
        self,
        *,
        depends_on: Sequence[pulumi.Resource] = (),
        additional_secret_outputs: Sequence[str] = (),
        delete_before_replace: bool = False,
    ) -> pulumi.ResourceOptions:
        """Options of a child: always ``parent=self`` (providers are inherited from it)."""
        return pulumi.ResourceOptions(
            parent=self.parent,
            depends_on=list(depends_on) or None,
            additional_secret_outputs=list(additional_secret_outputs) or None,
            delete_before_replace=delete_before_replace or None,
        )
