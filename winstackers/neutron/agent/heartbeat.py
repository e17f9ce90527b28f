"""The agent's heartbeat: ``report_state`` every ``report_interval``, in a
thread of its own, so slow host calls never make the agent look dead.

neutron marks an agent dead after ``agent_down_time`` (75 s by default)
without a report (https://docs.openstack.org/neutron/latest/configuration/neutron.html);
``report_interval`` should be half of that or less.  A zero interval turns
the heartbeat off, as in neutron's agents.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

LOG = logging.getLogger(__name__)


class Heartbeat:
    """Calls *report* every *interval* seconds until :meth:`stop`."""

    def __init__(self, report: Callable[[], None], interval: float) -> None:
        self.report = report
        self.interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start reporting (the first report is sent at once)."""
        if self.interval <= 0:
            LOG.warning("[AGENT] report_interval is 0: the agent sends no heartbeat")
            return
        self._thread = threading.Thread(target=self._run, name="hyperv-agent-heartbeat",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.is_set():
            started = time.monotonic()
            self.report()
            self._stopped.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def stop(self) -> None:
        """Stop reporting; returns once the thread has ended."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
