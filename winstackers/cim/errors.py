"""Typed errors raised through the CIM seam.

Every transport (the in-process emulator, WS-Management, PyMI) raises these
and nothing else, so callers handle one family of exceptions.  Each error
names the class, method or object at fault and, where Hyper-V gave one,
carries Hyper-V's numeric code.
"""

from __future__ import annotations

from typing import Any


class CimError(Exception):
    """Base of every error raised through :mod:`winstackers.cim`.

    Subclasses set ``msg_fmt``; keyword arguments fill it and are kept as
    attributes so callers can inspect them (``err.kwargs['method']``).
    """

    msg_fmt = "CIM operation failed: %(detail)s"
    #: Whether repeating the same operation may succeed.
    retryable = False

    def __init__(self, message: str | None = None, *, code: int | None = None,
                 **kwargs: Any) -> None:
        self.code = code
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                message = f"{self.msg_fmt} {kwargs!r}"
        if code is not None and str(code) not in message:
            message = f"{message} (code {code})"
        super().__init__(message)


class NotFound(CimError):
    """The class, instance or method named does not exist."""

    msg_fmt = "%(what)s not found"


class InvalidParameter(CimError):
    """Hyper-V refused a value: Invalid Parameter (4 or 32773)."""

    msg_fmt = "invalid parameter for %(where)s: %(detail)s"


class InvalidQuery(InvalidParameter):
    """A WQL text that cannot be parsed or names what does not exist."""

    msg_fmt = "invalid WQL query %(query)r: %(detail)s"


class InvalidState(CimError):
    """The object is not in a state that allows the operation (5, 32775)."""

    msg_fmt = "%(where)s: invalid state: %(detail)s"


class NotSupported(CimError):
    """Hyper-V (or this transport) does not support the request (1, 32770)."""

    msg_fmt = "%(where)s is not supported: %(detail)s"


class AccessDenied(CimError):
    """The caller may not perform the operation (32769, HTTP 401/403)."""

    msg_fmt = "access denied to %(where)s: %(detail)s"


class MethodFailed(CimError):
    """A method returned a code that has no more specific error class."""

    msg_fmt = "%(method)s on %(target)s returned %(meaning)s"


class JobFailed(CimError):
    """A Hyper-V job ended in a failure state (Terminated, Killed, Exception).

    ``code`` carries the job's ErrorCode; the message its ErrorDescription.
    """

    msg_fmt = "%(method)s job %(job)s failed (JobState %(state)s): %(description)s"


class Timeout(CimError):
    """An operation or a job did not finish in the allowed time."""

    msg_fmt = "%(what)s did not finish within %(seconds)s s"
    retryable = True


class TransportError(CimError):
    """The host could not be reached or the connection broke; retry may work."""

    msg_fmt = "transport error talking to %(host)s: %(detail)s"
    retryable = True


class CertificateNotTrusted(TransportError):
    """The host's TLS certificate failed verification; retrying will not help."""

    msg_fmt = "the TLS certificate of %(host)s is not trusted: %(detail)s"
    retryable = False
