"""Hyper-V method calls and job waiting, in one place.

Hyper-V's management methods either finish at once (return 0) or start a
job (return 4096) whose ``Msvm_ConcreteJob`` the caller must watch until it
reaches a terminal state.  Microsoft's sample code treats JobState 7
(Completed) and 32768 (CompletedWithWarnings) as success and 8
(Terminated), 9 (Killed) and 10 (Exception) as failure, reading
``ErrorCode`` and ``ErrorDescription`` on failure
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/common-utilities-for-the-virtualization-samples-v2,
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-concretejob).
Waiting is always bounded by a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from winstackers.cim import errors, returncodes
from winstackers.cim.api import Session
from winstackers.cim.values import Instance, Reference

JOB_COMPLETED = 7
JOB_COMPLETED_WITH_WARNINGS = 32768
JOB_TERMINATED = 8
JOB_KILLED = 9
JOB_EXCEPTION = 10
SUCCESS_STATES = frozenset({JOB_COMPLETED, JOB_COMPLETED_WITH_WARNINGS})
FAILURE_STATES = frozenset({JOB_TERMINATED, JOB_KILLED, JOB_EXCEPTION})

#: Default bound on how long a job may run before :class:`Timeout`.
DEFAULT_TIMEOUT = 300.0


def call(session: Session, target: Reference, method: str,
         params: Mapping[str, Any] | None = None, *,
         timeout: float = DEFAULT_TIMEOUT) -> Mapping[str, Any]:
    """Invoke *method* on *target*, wait for its job if it starts one.

    :returns: the method's output parameters.
    :raises JobFailed: when the job ends in a failure state.
    :raises Timeout: when the job is not done within *timeout* seconds.
    :raises CimError: a subclass matching Hyper-V's meaning of any other
        return value (InvalidParameter for 4/32773, InvalidState for
        5/32775, AccessDenied for 32769, ...), naming method and target.
    """
    result = session.invoke(target, method, params)
    if result.return_value == returncodes.COMPLETED:
        return result.out
    if result.return_value == returncodes.JOB_STARTED:
        job = result.out.get("Job")
        if not isinstance(job, Reference):
            raise errors.MethodFailed(
                f"{method} on {target.class_name} returned 4096 without a Job reference",
                method=method, target=target.class_name)
        wait(session, job, method=method, timeout=timeout)
        return result.out
    raise returncodes.error_for(result.return_value, method, _describe(target),
                                result.error_description)


def _describe(ref: Reference) -> str:
    keys = ",".join(f"{k}={v}" for k, v in ref.keys if k.lower() not in ("creationclassname",
                                                                         "systemcreationclassname"))
    return f"{ref.class_name}({keys})"


def wait(session: Session, job_ref: Reference, *, method: str = "job",
         timeout: float = DEFAULT_TIMEOUT,
         sleep: Callable[[float], None] = time.sleep) -> Instance:
    """Poll the job at *job_ref* until it ends; return its final snapshot.

    Polls quickly at first (10 ms) and backs off to once a second, the
    interval of Microsoft's sample.

    :raises JobFailed: carrying the job's ErrorCode and ErrorDescription.
    :raises Timeout: when *timeout* seconds pass first.
    """
    deadline = time.monotonic() + timeout
    interval = 0.01
    while True:
        job = session.get(job_ref)
        state = job.get("JobState")
        if state in SUCCESS_STATES:
            return job
        if state in FAILURE_STATES:
            raise _job_error(job, method, state)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.Timeout(what=f"{method} job {job.get('InstanceID')}", seconds=timeout)
        sleep(min(interval, remaining))
        interval = min(interval * 2, 1.0)


def _job_error(job: Instance, method: str, state: int) -> errors.JobFailed:
    description = (job.get("ErrorDescription") or job.get("ErrorSummaryDescription")
                   or "no description")
    return errors.JobFailed(code=job.get("ErrorCode"), method=method,
                            job=job.get("InstanceID"), state=state, description=description)
