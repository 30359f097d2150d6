"""Pure rule functions (no Pulumi runtime, no I/O).

The same functions serve component input validation and, later, the CrossGuard policy
pack (only ``policies/__main__.py`` may construct ``pulumi_policy.PolicyPack``).
"""
