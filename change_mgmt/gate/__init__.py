"""The gate: compose preview, risk, approvals and the change record into open or closed."""
