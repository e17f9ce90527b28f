"""Msvm_ConcreteJob emulation: jobs that end after a delay.

A method that "runs as a job" returns 4096 and a reference to an
``Msvm_ConcreteJob``.  The job is Running (JobState 4) until its delay has
passed, then Completed (7) or, when a failure was injected or its
completion step failed, Exception (10) with ErrorCode and ErrorDescription
set (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-concretejob).

Not emulated: PercentComplete progress, JobState 2/3/5/6/8/9/11, the
``GetError``/``GetErrorEx``/``RequestStateChange`` methods of a job, and the
clean-up of old jobs (they stay listed, as Hyper-V keeps them for a while).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from winstackers.cim.values import Reference
from winstackers.emulator.hyperv.store import Store

RUNNING = 4
COMPLETED = 7
EXCEPTION = 10


class JobStepFailed(Exception):
    """Raised by a completion step to fail its job with a Hyper-V code."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass
class _Pending:
    ref: Reference
    due: float
    fail: tuple[int, str] | None
    on_complete: Callable[[], None] | None


class JobQueue:
    """Jobs that are still running, finished lazily when time has come."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._clock = clock
        self._pending: list[_Pending] = []

    def start(self, method: str, delay: float, *, fail: tuple[int, str] | None = None,
              on_complete: Callable[[], None] | None = None) -> Reference:
        """Create a running job for *method* and return its reference.

        :param fail: (ErrorCode, ErrorDescription) to end the job with.
        :param on_complete: run when the job ends successfully; it may raise
            :class:`JobStepFailed` to fail the job instead.
        """
        ref = self._store.add("Msvm_ConcreteJob", {
            "InstanceID": str(uuid.uuid4()).upper(), "JobState": RUNNING,
            "Caption": method, "ElementName": method, "Name": method,
            "Description": f"{method} job", "JobStatus": "Job is running"})
        self._pending.append(_Pending(ref, self._clock() + delay, fail, on_complete))
        return ref

    def advance(self) -> int:
        """Finish every job whose time has come, in start order; returns
        how many finished."""
        now = self._clock()
        due = [job for job in self._pending if job.due <= now]
        self._pending = [job for job in self._pending if job.due > now]
        for job in due:
            self._finish(job)
        return len(due)

    def _finish(self, job: _Pending) -> None:
        failure = job.fail
        if failure is None and job.on_complete is not None:
            try:
                job.on_complete()
            except JobStepFailed as exc:
                failure = (exc.code, exc.description)
        if failure is None:
            self._store.update(job.ref, {"JobState": COMPLETED, "PercentComplete": 100,
                                         "JobStatus": "Job completed successfully"})
            return
        code, description = failure
        self._store.update(job.ref, {"JobState": EXCEPTION, "ErrorCode": code,
                                     "ErrorDescription": description,
                                     "ErrorSummaryDescription": description,
                                     "JobStatus": "Job failed"})

    def __len__(self) -> int:
        return len(self._pending)
