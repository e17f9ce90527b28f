"""Errors of the host library.

They derive from the CIM seam's errors, so a caller may catch either
family: ``VMNotFound`` is a :class:`winstackers.cim.NotFound`.
"""

from __future__ import annotations

from winstackers.cim.errors import CimError, InvalidParameter, NotFound


class VMNotFound(NotFound):
    """No VM with that name or id."""

    msg_fmt = "virtual machine %(vm)s not found on %(host)s"


class VNicNotFound(NotFound):
    """No network adapter with that name."""

    msg_fmt = "network adapter %(nic)s not found on %(host)s"


class PortNotFound(NotFound):
    """No switch port (network adapter) with that name."""

    msg_fmt = "switch port %(port)s not found on %(host)s"


class SwitchNotFound(NotFound):
    """No vSwitch with that name."""

    msg_fmt = "vSwitch %(switch)s not found on %(host)s"


class ImageNotFound(NotFound):
    """No virtual hard disk file at that path."""

    msg_fmt = "virtual hard disk %(path)s not found on %(host)s"


class DiskNotFound(NotFound):
    """No disk or ISO image with that path attached to the VM."""

    msg_fmt = "no disk %(path)s attached to virtual machine %(vm)s on %(host)s"


class InvalidDesiredState(InvalidParameter):
    """A desired state the host would refuse; raised before any host call."""

    msg_fmt = "invalid %(field)s: %(detail)s"


class OperationFailed(CimError):
    """A host operation failed; says what was being done."""

    msg_fmt = "%(operation)s failed: %(cause)s"
