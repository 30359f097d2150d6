"""Stack programs: the only code that reads ``pulumi.Config`` and composes components.

Kept import-free so that light tools (``sre env validate``) do not pay for loading the
provider SDKs; the program itself lives in ``stacks.program``.
"""
