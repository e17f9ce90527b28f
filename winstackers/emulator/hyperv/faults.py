"""Latency, fault injection and call counters of the emulated host.

Tests and benchmarks use these to make the emulator slow or unreliable the
way a busy Hyper-V host is, and to count the calls the code under test
makes.  Faults are drawn from a seeded random generator, so a run with the
same seed and the same calls fails the same way.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from winstackers.cim.errors import TransportError

READ_OPERATIONS = frozenset({"query", "get", "associators", "references", "new_instance"})
#: Methods that only read, although they are invoked like the others.
READ_METHODS = frozenset({"GetSummaryInformation", "GetVirtualHardDiskSettingData"})


@dataclass
class FaultPlan:
    """What to inject.  All rates are probabilities between 0 and 1.

    :ivar latency: seconds added to every call.
    :ivar job_delay: seconds a job runs before it ends.
    :ivar job_failure_rate: share of jobs that end in JobState 10.
    :ivar transport_error_rate: share of calls that fail with
        :class:`~winstackers.cim.errors.TransportError` before doing anything.
    :ivar seed: seed of the generator that draws the faults.
    :ivar guest_ignores_shutdown: guests accept
        ``Msvm_ShutdownComponent.InitiateShutdown`` and its job completes,
        but their VM keeps running (a guest that does not act on shutdown
        requests), so callers must fall back to turning it off.
    """

    latency: float = 0.0
    job_delay: float = 0.0
    job_failure_rate: float = 0.0
    transport_error_rate: float = 0.0
    seed: int = 0
    guest_ignores_shutdown: bool = False
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("latency", "job_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"FaultPlan.{name} must not be negative")
        for name in ("job_failure_rate", "transport_error_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"FaultPlan.{name} must be between 0 and 1")
        self._rng = random.Random(self.seed)

    def before_call(self, host: str, operation: str) -> None:
        """Sleep for the latency, then maybe raise a transport error."""
        if self.latency:
            time.sleep(self.latency)
        if self.transport_error_rate and self._rng.random() < self.transport_error_rate:
            raise TransportError(host=host, detail=f"injected transport error during {operation}")

    def job_fails(self) -> bool:
        """Draw whether the next job fails."""
        return bool(self.job_failure_rate) and self._rng.random() < self.job_failure_rate


class CallCounters:
    """Counts calls by operation (``query``, ``invoke:AddFeatureSettings``)
    and by kind (reads, writes).  Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_operation: Counter[str] = Counter()

    def record(self, operation: str, method: str | None = None) -> None:
        """Count one call."""
        name = f"invoke:{method}" if method else operation
        with self._lock:
            self._by_operation[name] += 1

    @staticmethod
    def is_read(name: str) -> bool:
        """Whether the counted operation *name* only reads."""
        if name.startswith("invoke:"):
            return name.split(":", 1)[1] in READ_METHODS
        return name in READ_OPERATIONS

    @property
    def reads(self) -> int:
        """Calls that only read host state."""
        with self._lock:
            return sum(n for op, n in self._by_operation.items() if self.is_read(op))

    @property
    def writes(self) -> int:
        """Calls that may change host state."""
        with self._lock:
            return sum(n for op, n in self._by_operation.items() if not self.is_read(op))

    def by_operation(self) -> dict[str, int]:
        """A copy of the per-operation counts."""
        with self._lock:
            return dict(self._by_operation)

    def reset(self) -> None:
        """Start counting from zero."""
        with self._lock:
            self._by_operation.clear()
