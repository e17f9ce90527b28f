"""Winstackers: Hyper-V for OpenStack.

The package is layered (see ARCHITECTURE.md): :mod:`winstackers.cim` is the
only door to a Hyper-V host, :mod:`winstackers.emulator` stands in for one.
"""

__all__: list[str] = []
