"""The CIM session protocol: the one door to a Hyper-V host's WMI.

Everything above this layer talks to a host through a :class:`Session`.
Transports implement it: the in-process emulator
(:mod:`winstackers.cim.transports.emulated`), WS-Management (remote) and
PyMI (local, on Windows).  Sessions hand out read-only
:class:`~winstackers.cim.values.Instance` snapshots, never live objects.

Errors are always subclasses of :class:`~winstackers.cim.errors.CimError`.
Methods raise :class:`~winstackers.cim.errors.TransportError` when the
host cannot be reached, and
:class:`~winstackers.cim.errors.AccessDenied` when the credentials are
refused; those two are not repeated in each docstring.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from winstackers.cim.values import Instance, Reference

#: The Hyper-V WMI namespace (v2), used by every Winstackers session.
HYPERV_NAMESPACE = "root/virtualization/v2"


@dataclass(frozen=True)
class MethodResult:
    """What a method invocation returned.

    ``out`` holds the output parameters by name (references as
    :class:`Reference`, instance-typed values as :class:`Instance`,
    embedded-instance strings as ``str``).  ``error_description`` carries
    the host's extended error text for a non-zero, non-job return value
    when the transport received one.
    """

    return_value: int
    out: Mapping[str, Any] = field(default_factory=dict)
    error_description: str | None = None


class Session(abc.ABC):
    """A connection to one host's CIM namespace.

    Sessions are safe to share between threads.  Use :func:`winstackers.cim.
    connect` to get one from a URL.
    """

    #: A name for the host, used in error messages and logs (never secrets).
    host: str = "host"
    namespace: str = HYPERV_NAMESPACE

    @abc.abstractmethod
    def query(self, wql: str, namespace: str | None = None) -> list[Instance]:
        """Run a WQL query (``SELECT ... FROM ... [WHERE ...]``, or
        ``ASSOCIATORS OF`` / ``REFERENCES OF``) and return the instances.

        Enumerating a class returns instances of its subclasses too.

        :param wql: the query text (see :mod:`winstackers.cim.wql`).
        :param namespace: another namespace of the same host, e.g.
            ``root/cimv2`` for the operating system's classes; the
            session's own namespace when None.
        :returns: a list of snapshots, possibly empty.
        :raises InvalidQuery: when the text cannot be parsed, or names a
            class or property the host does not have.
        """

    @abc.abstractmethod
    def get(self, ref: Reference) -> Instance:
        """Read one instance by reference.

        :raises NotFound: when no instance has that reference.
        """

    @abc.abstractmethod
    def associators(self, ref: Reference, *, assoc_class: str | None = None,
                    result_class: str | None = None, role: str | None = None,
                    result_role: str | None = None) -> list[Instance]:
        """The instances associated with *ref* (CIM ``Associators``).

        :param assoc_class: only through associations of this class.
        :param result_class: only results of this class (or a subclass).
        :param role: the role *ref* plays in the association.
        :param result_role: the role the result plays.
        :raises NotFound: when *ref* does not exist.
        """

    @abc.abstractmethod
    def references(self, ref: Reference, *, result_class: str | None = None,
                   role: str | None = None) -> list[Instance]:
        """The association instances that refer to *ref* (CIM ``References``).

        :param result_class: only associations of this class.
        :param role: the role *ref* plays in them.
        :raises NotFound: when *ref* does not exist.
        """

    @abc.abstractmethod
    def invoke(self, target: Reference, method: str,
               params: Mapping[str, Any] | None = None) -> MethodResult:
        """Invoke an extrinsic method and return its raw result.

        Most callers want :func:`winstackers.cim.jobs.call`, which also
        waits for Hyper-V jobs and turns return codes into errors.

        :param target: the instance (or a service singleton) to call on.
        :param params: input parameters; :class:`Reference` for REF
            parameters; :class:`Instance` (or a list of them) for parameters
            that take embedded-instance strings: the transport encodes them.
        :raises NotFound: when the target or method does not exist.
        :raises InvalidParameter: when a parameter is unknown or of the
            wrong type (a malformed request, not a refused value: refused
            values come back as a return code).
        """

    @abc.abstractmethod
    def create(self, instance: Instance) -> Reference:
        """Create an instance (intrinsic ``CreateInstance``).

        :raises NotSupported: when the class cannot be created this way
            (most Hyper-V classes are created through service methods).
        """

    @abc.abstractmethod
    def modify(self, instance: Instance) -> Instance:
        """Write changed properties of an instance (``ModifyInstance``/Put).

        :raises NotFound: when ``instance.path`` does not exist.
        :raises NotSupported: when the class or a property is read-only.
        """

    @abc.abstractmethod
    def delete(self, ref: Reference) -> None:
        """Delete an instance (intrinsic ``DeleteInstance``).

        :raises NotFound: when *ref* does not exist.
        :raises NotSupported: when the class cannot be deleted this way.
        """

    @abc.abstractmethod
    def new_instance(self, class_name: str,
                     properties: Mapping[str, Any] | None = None) -> Instance:
        """Build a new, unsaved instance of *class_name* with its defaults.

        The result carries the class's CIM types, so it can be passed as an
        embedded instance to a method (``DefineSystem``'s SystemSettings).

        :raises NotFound: when the class does not exist.
        :raises InvalidParameter: when a property is not one of the class's.
        """

    def close(self) -> None:  # noqa: B027 - a no-op is right for connectionless transports
        """Release the connection; the session must not be used after."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ref_list(values: Sequence[Any] | None) -> list[Reference]:
    """Narrow an output parameter that is documented as ``REF[]``."""
    return [v for v in (values or []) if isinstance(v, Reference)]
