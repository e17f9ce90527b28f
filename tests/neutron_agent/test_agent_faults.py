"""What the fault tests (``tests/functional/test_faults.py``) found, in small:

- after RabbitMQ comes back, notifications cast while the agent's queues
  were gone are lost: the agent resyncs on each reconnection
  (:class:`ReconnectWatch`);
- a failed iteration was logged inside the exception handler, and oslo.log
  then appends the error a second time (its "error summary" of the
  exception being handled, ``sys.exc_info()``): one failure, one plain line.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

from tests.neutron_agent.conftest import Lab
from tests.neutron_agent.fakes import SG, egress_any, ingress
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.packets import INBOUND
from winstackers.neutron.agent.rpc import ReconnectWatch

VM_IP = "10.0.0.5"


def https_in(lab: Lab, pid: str) -> bool:
    return lab.allows(pid, INBOUND, "tcp", VM_IP, "10.0.0.9", 443, 40000)


def log_reconnected() -> None:
    """What oslo.messaging's RabbitMQ driver logs once a connection is back."""
    logging.getLogger(ReconnectWatch.LOGGER).info(
        "[%(connection_id)s] Reconnected to AMQP server on %(hostname)s:%(port)s via "
        "[%(transport)s] client with port %(client_port)s.",
        {"connection_id": "c0ffee", "hostname": "127.0.0.1", "port": 5672,
         "transport": "amqp", "client_port": 50000})


def test_a_reconnection_to_rabbitmq_makes_the_next_iteration_resync(lab: Lab) -> None:
    lab.plugin.rules[SG] = [ingress("tcp", 22, 22, "10.0.0.0/24"), egress_any()]
    pid = lab.plug()
    agent = lab.agent()
    agent.run_once()
    assert lab.plugin.status[pid] == "ACTIVE" and not https_in(lab, pid)
    # A rule added while the broker was down: its notification is lost.
    lab.plugin.rules[SG].append(ingress("tcp", 443, 443, "10.0.0.0/24"))
    agent.run_once()
    assert not https_in(lab, pid), "no notification, no resync: nothing to do"

    watch = ReconnectWatch(agent.request_resync).install()
    try:
        log_reconnected()
        log_reconnected()  # one per connection: the resyncs do not pile up
    finally:
        watch.remove()
    agent.run_once()
    assert https_in(lab, pid)
    calls = sum(lab.plugin.calls.values())
    agent.run_once()
    assert sum(lab.plugin.calls.values()) == calls, "a second resync"


def test_the_watch_sees_reconnections_even_when_oslo_messaging_logs_less() -> None:
    logger = logging.getLogger(ReconnectWatch.LOGGER)
    level = logger.level
    seen: list[str] = []
    logger.setLevel(logging.WARNING)
    watch = ReconnectWatch(seen.append).install()
    try:
        log_reconnected()
        logger.info("something else")
    finally:
        watch.remove()
        logger.setLevel(level)
    assert len(seen) == 1 and "notifications" in seen[0]


class ExcInfoAtEmit(logging.Handler):
    """Records each record with the exception being handled when it was
    logged (what oslo.log's formatter appends to WARNING and above)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[tuple[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), sys.exc_info()[1]))


@pytest.fixture
def exc_info_at_emit() -> Any:
    handler = ExcInfoAtEmit()
    logger = logging.getLogger("winstackers.neutron")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_a_failed_iteration_is_logged_outside_the_exception_handler(
        lab: Lab, exc_info_at_emit: ExcInfoAtEmit) -> None:
    lab.plug()
    agent = lab.agent()
    lab.host.faults = FaultPlan(transport_error_rate=1.0)
    agent.run_once()
    lab.plugin.failing = {"get_devices_details_list"}
    lab.host.faults = FaultPlan()
    agent.run_once()
    said = [(text, handled) for text, handled in exc_info_at_emit.seen if "will resync" in text]
    assert len(said) == 2, exc_info_at_emit.seen
    assert [handled for _, handled in said] == [None, None]


def test_a_failed_heartbeat_is_logged_outside_the_exception_handler(
        lab: Lab, exc_info_at_emit: ExcInfoAtEmit) -> None:
    agent = lab.agent()
    lab.plugin.failing = {"report_state"}
    agent.report_state()
    assert [(text.startswith("reporting state to neutron failed"), handled)
            for text, handled in exc_info_at_emit.seen] == [(True, None)]


#: Run in a subprocess (the configuration and the messaging transport are
#: process-wide): the agent's own option loading, then a call no server
#: answers, on oslo.messaging's in-process transport.
TIMEOUT_PROBE = """
import sys
import oslo_messaging
from neutron.agent import rpc as agent_rpc
from neutron_lib import context
from neutron_lib.agent import topics
from winstackers.neutron.agent.main import load_settings

load_settings(["--config-file", sys.argv[1]])
try:
    agent_rpc.PluginApi(topics.PLUGIN).get_devices_details_list(
        context.get_admin_context_without_session(), ["p1"], "agent", "hv1")
except oslo_messaging.MessagingTimeout:
    print("MessagingTimeout")
"""


def test_an_rpc_timeout_is_a_timeout_not_a_missing_option(tmp_path: Any) -> None:
    """neutron_lib's RPC client reads ``rpc_response_max_timeout`` after a
    timeout: unregistered, the timeout became ``NoSuchOptError`` (and an
    error with a trace in the log) instead of a backed-off retry."""
    import subprocess  # noqa: PLC0415 - only this test runs a process

    conf = tmp_path / "agent.ini"
    conf.write_text("[DEFAULT]\nhost = hv1\ntransport_url = fake://\n"
                    "rpc_response_timeout = 1\nlog_file = " + str(tmp_path / "agent.log") + "\n"
                    "[AGENT]\nphysical_network_vswitch_mappings = physnet1:vSwitch-physnet1\n"
                    "[hyperv_host]\nurl = emulator://probe\n")
    done = subprocess.run([sys.executable, "-c", TIMEOUT_PROBE, str(conf)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout.strip() == "MessagingTimeout", done.stdout + done.stderr
