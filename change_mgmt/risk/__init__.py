"""Risk scoring of a ChangeSet: the risk policy, its rules, windows, freezes and error budgets."""
