"""The CIM seam: the only door to a Hyper-V host's WMI.

- :class:`Session` (:mod:`winstackers.cim.api`): query, get, associators,
  references, invoke, create/modify/delete, new_instance;
- :func:`connect`: a session from one URL setting;
- :func:`call` / :func:`wait_job` (:mod:`winstackers.cim.jobs`): invoke a
  Hyper-V method, wait for its job, get typed errors;
- :class:`InstanceWatcher`: created/deleted instances of a class, by poll;
- values (:class:`Instance`, :class:`Reference`) and errors
  (:mod:`winstackers.cim.errors`).
"""

from winstackers.cim.api import HYPERV_NAMESPACE, MethodResult, Session
from winstackers.cim.connect import connect, redact
from winstackers.cim.errors import (
    AccessDenied,
    CimError,
    InvalidParameter,
    InvalidQuery,
    InvalidState,
    JobFailed,
    MethodFailed,
    NotFound,
    NotSupported,
    Timeout,
    TransportError,
)
from winstackers.cim.jobs import call
from winstackers.cim.jobs import wait as wait_job
from winstackers.cim.values import Instance, Reference
from winstackers.cim.watch import Changes, InstanceWatcher

__all__ = [
    "HYPERV_NAMESPACE", "AccessDenied", "Changes", "CimError", "Instance", "InstanceWatcher",
    "InvalidParameter", "InvalidQuery", "InvalidState", "JobFailed", "MethodFailed",
    "MethodResult", "NotFound", "NotSupported", "Reference", "Session", "Timeout",
    "TransportError", "call", "connect", "redact", "wait_job",
]
