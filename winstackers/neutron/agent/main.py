"""``neutron-hyperv-agent``: the console script.

Shaped like neutron 29's SR-IOV agent ``main()``: register neutron's
common options, parse the command line and files, set up logging, check
the agent's options, then run the loop in the main thread with the
heartbeat and RPC consumers in threads; SIGTERM ends it cleanly.

Usage: ``neutron-hyperv-agent --config-file /etc/neutron/neutron.conf
--config-file /etc/neutron/hyperv_agent.ini``.  Bad options end the
process with status 1 and a message naming the option.  A host that does
not answer at start is retried every ``polling_interval`` (one log line
each time) until it does or the agent is stopped.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from functools import partial
from types import FrameType

from neutron.common import config as common_config
from neutron.conf import service as service_conf
from oslo_config import cfg

from winstackers.cim import connect, redact
from winstackers.cim.api import Session
from winstackers.cim.errors import CimError, InvalidParameter, NotSupported, Timeout, TransportError
from winstackers.hyperv.hostinfo import HostInfo, read_host_info
from winstackers.neutron.agent import config
from winstackers.neutron.agent.agent import HyperVAgent
from winstackers.neutron.agent.config import AgentConfigError, AgentSettings
from winstackers.neutron.agent.rpc import (
    AgentRpcCallbacks,
    NeutronPluginRpc,
    ReconnectWatch,
    close_consumers,
    create_consumers,
)

LOG = logging.getLogger(__name__)


def load_settings(argv: list[str]) -> AgentSettings:
    """Register the options, parse *argv* and the config files, set up
    logging, and return the checked settings.

    :raises AgentConfigError: naming the bad option.
    """
    common_config.register_common_config_options()
    # rpc_response_max_timeout: neutron_lib's RPC client reads it when a call
    # times out (neutron's own agents register it so too).
    service_conf.register_service_opts(service_conf.RPC_EXTRA_OPTS, cfg.CONF)
    config.register_opts(cfg.CONF)
    common_config.init(argv)
    common_config.setup_logging()
    return config.load(cfg.CONF)


def open_session(settings: AgentSettings) -> Session:
    """The host session (the URL is logged without credentials).

    :raises AgentConfigError: naming ``[hyperv_host] url`` when it is bad.
    """
    LOG.info("connecting to Hyper-V host %s", redact(settings.url))
    try:
        return connect(settings.url, password=settings.password)
    except (InvalidParameter, NotSupported) as exc:
        raise AgentConfigError(config.HOST, "url", str(exc)) from None


def wait_for_host(session: Session, settings: AgentSettings,
                  stopping: threading.Event) -> HostInfo | None:
    """The host's facts, retried each ``polling_interval`` while the host
    does not answer; None when stopped meanwhile.

    :raises CimError: when retrying cannot help (an untrusted certificate).
    """
    while not stopping.is_set():
        try:
            return read_host_info(session)
        except (TransportError, Timeout) as exc:
            if not exc.retryable:  # an untrusted certificate: waiting will not help
                raise
            failure = str(exc)
        # Logged outside the handler: oslo.log would append the error again.
        LOG.warning("host %s does not answer (%s); retrying in %s s",
                    redact(settings.url), failure, settings.polling_interval)
        stopping.wait(settings.polling_interval)
    return None


def run(settings: AgentSettings) -> int:
    """Run the agent until SIGTERM; the process's exit status."""
    stopping = threading.Event()
    agent: HyperVAgent | None = None

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        LOG.info("SIGTERM received: finishing the work in flight, then stopping")
        stopping.set()
        if agent is not None:
            agent.stop()

    signal.signal(signal.SIGTERM, on_sigterm)
    session = open_session(settings)
    host_info = wait_for_host(session, settings, stopping)
    if host_info is None:
        session.close()
        return 0
    config.check_against_host(settings, host_info)
    plugin = NeutronPluginRpc(settings.host, f"hyperv-agent.{settings.host}")
    agent = HyperVAgent(settings, session, plugin, host_info=host_info,
                        batch_size=cfg.CONF.rpc_resources_processing_step)
    connection = create_consumers(AgentRpcCallbacks(agent.tracker, settings.host))
    agent.closers.append(partial(close_consumers, connection))
    agent.closers.append(ReconnectWatch(agent.request_resync).install().remove)
    agent.start()
    connection.consume_in_threads()
    if stopping.is_set():
        agent.stop()
    try:
        agent.daemon_loop()
    finally:
        agent.close()
    return 0


def main() -> None:
    """The ``neutron-hyperv-agent`` console script."""
    try:
        status = run(load_settings(sys.argv[1:]))
    except AgentConfigError as exc:
        failure = f"{exc}; the agent is not started"
    except CimError as exc:
        failure = f"the Hyper-V host cannot be used: {exc}; the agent is not started"
    else:
        raise SystemExit(status)
    # Logged outside the handler: oslo.log would repeat the error as a trace.
    LOG.error("%s", failure)
    print(f"neutron-hyperv-agent: {failure}", file=sys.stderr)
    raise SystemExit(1)
