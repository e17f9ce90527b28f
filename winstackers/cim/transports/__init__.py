"""Transports that implement :class:`winstackers.cim.api.Session`."""
