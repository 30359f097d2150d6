"""``python -m change_mgmt.cli``: the same as the ``sre`` command."""

from change_mgmt.cli.app import main

main()
