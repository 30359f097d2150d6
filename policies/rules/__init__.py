"""The pack's rules, one module per subject; :mod:`policies.rules.registry` lists them all."""
