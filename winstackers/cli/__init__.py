"""The ``winstackers`` command."""
