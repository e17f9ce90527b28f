"""The Hyper-V L2 agent: threads, a heartbeat, a polling loop, resync.

Shaped like neutron 29's SR-IOV agent (``neutron/plugins/ml2/drivers/
mech_sriov/agent/sriov_nic_agent.py``): no eventlet; a heartbeat thread
(:mod:`.heartbeat`); RPC notifications consumed in oslo.messaging's
threads (:mod:`.rpc`), which only mark ports; one loop thread
(:meth:`HyperVAgent.daemon_loop`) that every ``polling_interval``:

1. resyncs when it must (at start, after a host-call failure, after an RPC
   failure, after a connection to RabbitMQ was re-established, since
   notifications sent meanwhile may be lost: :class:`~.rpc.ReconnectWatch`):
   lists every vNIC, reads every port's state in bulk
   (:meth:`SwitchPorts.read_all`, a constant number of queries), and
   converges them all: a port already right costs no write, ports neutron
   forgot while the agent was away are disconnected;
2. else polls :class:`VNicWatcher` (one query): vNICs that appeared, and
   ports marked by notifications, are wired; vNICs that disappeared are
   reported down; ports whose neutron port was deleted are disconnected.

Only vNICs named like a neutron port (a UUID: the compute driver names
each adapter after its port) are the agent's; others are left alone.

Host calls run in a bounded thread pool (``[AGENT] worker_count``).  An
unreachable host costs one log line per interval, not a trace per port.
SIGTERM (:meth:`HyperVAgent.stop`) ends the loop after the work in
flight, stops the heartbeat, the RPC consumers and the pool, and closes
the host session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from neutron_lib import constants as n_const

from winstackers.cim import redact
from winstackers.cim.api import Session
from winstackers.cim.errors import CimError
from winstackers.hyperv.hostinfo import HostInfo, read_host_info
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.vnics import VNicWatcher
from winstackers.neutron import constants
from winstackers.neutron.agent.binding import HostView
from winstackers.neutron.agent.config import AgentSettings, check_against_host
from winstackers.neutron.agent.heartbeat import Heartbeat
from winstackers.neutron.agent.portinfo import DIRECT, NORMAL
from winstackers.neutron.agent.rpc import PluginRpc
from winstackers.neutron.agent.tracker import PortTracker
from winstackers.neutron.agent.wiring import HostCallsFailed, RpcFailed, Wiring, is_port_id
from winstackers.neutron.configurations import AgentConfigurations

LOG = logging.getLogger(__name__)
BINARY = "neutron-hyperv-agent"
DEFAULT_BATCH_SIZE = 20


def agent_configurations(settings: AgentSettings, host: HostInfo,
                         devices: int = 0) -> AgentConfigurations:
    """The ``configurations`` contract (:mod:`winstackers.neutron.configurations`)
    for these settings on this host."""
    return AgentConfigurations(
        vswitch_mappings=settings.vswitch_mappings, local_vswitch=settings.local_vswitch,
        sriov_vswitches=frozenset(s.name for s in host.switches if s.iov_enabled),
        supported_vnic_types=frozenset({NORMAL, DIRECT}), devices=devices)


class HyperVAgent:
    """One Hyper-V host's L2 agent.

    :raises AgentConfigError: when an option names a vSwitch the host
        does not have.
    :raises CimError: when the host's facts cannot be read.
    """

    def __init__(self, settings: AgentSettings, session: Session, plugin: PluginRpc, *,
                 host_info: HostInfo | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        self.settings, self.session, self.plugin = settings, session, plugin
        self.host_info = host_info or read_host_info(session)
        check_against_host(settings, self.host_info)
        self.view = HostView(agent_configurations(settings, self.host_info), self.host_info)
        self.ports = SwitchPorts(session)
        self.watcher = VNicWatcher(session)
        self.tracker = PortTracker()
        self.pool = ThreadPoolExecutor(settings.worker_count, thread_name_prefix="hyperv-port")
        self.wiring = Wiring(plugin, self.ports, self.pool, self.tracker, self.view, batch_size)
        self.heartbeat = Heartbeat(self.report_state, settings.report_interval)
        self.closers: list[Callable[[], Any]] = []
        self.needs_resync = True
        self.iterations = 0
        self._stopping = threading.Event()
        self._resync_requested = threading.Event()
        self._start_flag = True
        self._failing: str | None = None
        self._report_failed = False
        self._closed = False
        self._reports = 0
        self._last_stats = ""

    # -- the heartbeat ----------------------------------------------------------
    def agent_state(self) -> dict[str, Any]:
        """The ``agent_state`` of a heartbeat (neutron's agents table row)."""
        configurations = agent_configurations(self.settings, self.host_info,
                                              self.tracker.count_up())
        state = {"binary": BINARY, "host": self.settings.host,
                 "topic": n_const.L2_AGENT_TOPIC, "agent_type": constants.AGENT_TYPE_HYPERV,
                 "configurations": configurations.to_report()}
        return {**state, "start_flag": True} if self._start_flag else state

    def report_state(self) -> None:
        """Send one heartbeat; failures are logged, once until it works again."""
        self._reports += 1
        failure: Exception | None = None
        try:
            self.plugin.report_state(self.agent_state())
        except Exception as exc:
            failure = exc
        if failure is not None:
            # Logged outside the handler: oslo.log would repeat the error.
            if not self._report_failed:
                LOG.error("reporting state to neutron failed: %s", failure)
            self._report_failed = True
            return
        if self._report_failed:
            LOG.info("reporting state to neutron works again")
        self._start_flag = self._report_failed = False

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> None:
        """Start the heartbeat (RPC consumers are started by the caller)."""
        LOG.info("Hyper-V agent for host %s (%s): vSwitch mappings %s, local vSwitch %s, "
                 "SR-IOV vSwitches %s", self.settings.host, redact(self.settings.url),
                 dict(self.view.configurations.vswitch_mappings),
                 self.settings.local_vswitch, sorted(self.view.configurations.sriov_vswitches))
        self.heartbeat.start()

    def stop(self) -> None:
        """Ask the loop to end after the work in flight (thread-safe; what
        the SIGTERM handler calls)."""
        self._stopping.set()

    def close(self) -> None:
        """Stop the heartbeat, the consumers and the pool; close the session
        (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        self.heartbeat.stop()
        for closer in self.closers:
            closer()
        self.pool.shutdown(wait=True)
        self.session.close()
        LOG.info("Hyper-V agent stopped; %s", self.stats_line())

    # -- what it did ----------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        """Totals since the start: iterations, ports up, RPC calls (all
        methods, heartbeats included), host writes."""
        return {"iterations": self.iterations, "ports_up": self.tracker.count_up(),
                "rpc_calls": sum(self.wiring.rpc_calls.values()) + self._reports,
                "heartbeats": self._reports, "host_writes": self.wiring.host_writes}

    def stats_line(self) -> str:
        """:meth:`stats` as one ``stats: key=value ...`` text (what the
        agent logs after an iteration that changed something, and at exit;
        ``benchmarks/agent_convergence.py`` reads it)."""
        return "stats: " + " ".join(f"{key}={value}" for key, value in self.stats().items())

    def _log_stats(self) -> None:
        stats = self.stats()
        work = (stats["ports_up"], stats["rpc_calls"] - stats["heartbeats"],
                stats["host_writes"])
        if str(work) != self._last_stats:
            self._last_stats = str(work)
            LOG.info("%s", self.stats_line())

    def daemon_loop(self) -> None:
        """Run iterations every ``polling_interval`` until :meth:`stop`."""
        while not self._stopping.is_set():
            started = time.monotonic()
            self.run_once()
            self._log_stats()
            elapsed = time.monotonic() - started
            if elapsed > self.settings.polling_interval:
                LOG.debug("iteration %d took %.1f s, more than polling_interval",
                          self.iterations, elapsed)
            self._stopping.wait(max(0.0, self.settings.polling_interval - elapsed))

    # -- one iteration ------------------------------------------------------------
    def request_resync(self, why: str) -> None:
        """Make the next iteration resync (thread-safe: what the watch of the
        RPC connections calls, :class:`~.rpc.ReconnectWatch`)."""
        if not self._resync_requested.is_set():
            LOG.info("%s; the next iteration resyncs", why)
        self._resync_requested.set()

    def run_once(self) -> None:
        """One iteration: resync, or the changes since the last one.
        Failures are logged in one line and make the next iteration resync."""
        self.iterations += 1
        failure: Exception | None = None
        try:
            if self._resync_requested.is_set():
                # Cleared first: a request made during this resync gets another.
                self._resync_requested.clear()
                self.needs_resync = True
            if self.needs_resync:
                self.resync()
            else:
                self.sync_changes()
        except (CimError, HostCallsFailed, RpcFailed) as exc:
            failure = exc
        except Exception:
            # A bug or an answer of a shape never seen: keep the agent alive.
            LOG.exception("unexpected error in iteration %d; will resync", self.iterations)
            self.needs_resync = True
            return
        if failure is not None:
            # Logged outside the handler: oslo.log would append the error
            # again (its "error summary" of the exception being handled).
            self._failed(failure)
            return
        if self._failing is not None:
            LOG.info("host %s and neutron answer again; the agent has resynced",
                     redact(self.settings.url))
            self._failing = None

    def _failed(self, exc: Exception) -> None:
        self.needs_resync = True
        what = "neutron" if isinstance(exc, RpcFailed) else f"host {redact(self.settings.url)}"
        LOG.warning("%s: %s; will resync in %s s", what, exc, self.settings.polling_interval)
        self._failing = str(exc)

    def resync(self) -> None:
        """Converge every port of the host from a bulk read of its state."""
        self.watcher.reset()
        names = {nic.name for nic in self.watcher.poll().appeared if is_port_id(nic.name)}
        current = self.ports.read_all()
        vanished = self.tracker.known() - names
        self.tracker.forget(vanished)
        self.tracker.present(names)
        self.tracker.take()  # every port is wired below
        self.tracker.take_security()
        self.wiring.report([], sorted(vanished))
        writes = self.wiring.wire(names, current)
        self.needs_resync = False
        LOG.info("resync: %d vNICs, %d ports up, %d host writes", len(names),
                 self.tracker.count_up(), writes)

    def sync_changes(self) -> None:
        """Wire what appeared or changed, report what disappeared,
        disconnect what neutron deleted."""
        changes = self.watcher.poll()
        gone = {nic.name for nic in changes.disappeared}
        was_up = {name for name in gone if self.tracker.is_up(name)}
        # A trunk parent's subports have no vNIC of their own: down with it.
        was_up |= {sub for name in was_up for sub in self.tracker.get(name).subports}
        self.tracker.forget(gone)
        self.wiring.forget(gone)
        appeared = {nic.name for nic in changes.appeared if is_port_id(nic.name)}
        self.tracker.present(appeared)
        updated, deleted = self.tracker.take()
        security = self.tracker.take_security() - updated - deleted - appeared
        try:
            self.wiring.report([], sorted(was_up))
            self.wiring.disconnect(sorted(deleted))
            self.wiring.wire((appeared | updated) - deleted)
            self.wiring.refresh_security(security)
        except Exception:
            self.tracker.give_back(updated, deleted, security)
            raise
