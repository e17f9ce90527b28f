"""The agent's side of neutron's RPC: calls to the plugin, notifications in.

Calls (:class:`NeutronPluginRpc`, through neutron's own clients; neutron's
RPC interfaces: https://docs.openstack.org/neutron/latest/contributor/internals/rpc_api.html):

- ``report_state`` on ``q-reports-plugin`` (``PluginReportStateAPI``);
- ``get_devices_details_list`` and ``update_device_list`` on ``q-plugin``
  (``PluginApi``);
- ``security_group_info_for_devices`` (``SecurityGroupServerRpcApi``, 1.3);
- ``pull`` of QoS policies (``ResourcesPullRpcApi``, the versioned-objects
  API of https://docs.openstack.org/neutron/latest/contributor/internals/rpc_callbacks.html);
- ``update_subport_bindings`` and ``update_trunk_status`` on the trunk
  plugin's topic (``neutron.services.trunk.rpc.agent.TrunkStub``, the
  agent-side API of https://docs.openstack.org/neutron/latest/contributor/internals/services_and_agents.html
  trunk drivers use).

Notifications (:class:`AgentRpcCallbacks` and :func:`create_consumers`), on
the fanout topics ``q-agent-notifier-<resource>-<event>`` neutron's ML2
``AgentNotifierApi`` casts to: ``port_update``, ``port_delete``,
``network_update``, ``network_delete``, and the security group callbacks
``security_groups_rule_updated`` / ``security_groups_member_updated``.
Address group and QoS policy changes reach agents only as pushed versioned
objects (topics ``neutron-vo-AddressGroup-<version>`` and
``neutron-vo-QosPolicy-<version>``; callbacks get ``(context, resource_type,
resources, event_type)``), and so do trunk and subport changes
(``neutron-vo-Trunk-*``, ``neutron-vo-SubPort-*``).  During a live migration
ML2 casts ``binding_activate`` / ``binding_deactivate`` (topics
``q-agent-notifier-port_binding-<event>``) to the hosts involved.  Every
callback only marks ports in the
:class:`~winstackers.neutron.agent.tracker.PortTracker`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import oslo_messaging
from neutron.agent import rpc as agent_rpc
from neutron.api.rpc.callbacks import resources
from neutron.api.rpc.callbacks.consumer import registry
from neutron.api.rpc.handlers import resources_rpc, securitygroups_rpc
from neutron.services.trunk.rpc import agent as trunk_rpc
from neutron_lib import context
from neutron_lib.agent import topics

from winstackers.neutron.agent.tracker import PortTracker

#: The RPC API version of the notifications the agent accepts (ML2's
#: AgentNotifierApi casts 1.0-1.5, 1.5 being binding_activate/deactivate;
#: the security group mixin 1.1).
CALLBACKS_VERSION = "1.5"


class PluginRpc(Protocol):
    """What the agent asks of neutron.  The agent's tests implement it in
    memory; :class:`NeutronPluginRpc` is the real one."""

    def report_state(self, state: dict[str, Any]) -> None:
        """Send one heartbeat (``state`` is the agent_state dict)."""

    def get_devices_details_list(self, devices: Sequence[str]) -> list[dict[str, Any]]:
        """Details of each device (port id), in order."""

    def security_group_info_for_devices(self, devices: Sequence[str]) -> dict[str, Any]:
        """``{devices, security_groups, sg_member_ips}`` for the ports."""

    def update_device_list(self, up: Sequence[str], down: Sequence[str]) -> dict[str, Any]:
        """Report devices up and down; answers the failed ones."""

    def get_qos_rules(self, policy_id: str) -> list[dict[str, Any]] | None:
        """The rules of a QoS policy as dicts (with ``type``); None when
        the policy does not exist."""

    def update_subport_bindings(self, subports: Sequence[Mapping[str, str]]
                                ) -> dict[str, list[dict[str, Any]]]:
        """Bind subports (``{trunk_id, port_id}``) to their parent's host;
        answers the port dicts bound, by trunk id."""

    def update_trunk_status(self, trunk_id: str, status: str) -> None:
        """Set a trunk's status (ACTIVE, DEGRADED, ERROR, DOWN)."""


class NeutronPluginRpc:
    """:class:`PluginRpc` through neutron 29's RPC clients (oslo.messaging
    must be initialised: ``neutron.common.config.init``)."""

    def __init__(self, host: str, agent_id: str) -> None:
        self.host, self.agent_id = host, agent_id
        self.context = context.get_admin_context_without_session()
        self.plugin = agent_rpc.PluginApi(topics.PLUGIN)
        self.state = agent_rpc.PluginReportStateAPI(topics.REPORTS)
        self.security = securitygroups_rpc.SecurityGroupServerRpcApi(topics.PLUGIN)
        self.resources = resources_rpc.ResourcesPullRpcApi()
        self.trunks = trunk_rpc.TrunkStub()

    def report_state(self, state: dict[str, Any]) -> None:
        """Cast a heartbeat; the first one (``start_flag``) also carries the
        versions of the objects the agent understands, which the server
        uses to choose what it pushes."""
        if state.get("start_flag"):
            state = {**state, "resource_versions": resources.LOCAL_RESOURCE_VERSIONS}
        self.state.report_state(self.context, state)

    def get_devices_details_list(self, devices: Sequence[str]) -> list[dict[str, Any]]:
        """``PluginApi.get_devices_details_list`` for this host."""
        return list(self.plugin.get_devices_details_list(
            self.context, list(devices), self.agent_id, self.host))

    def security_group_info_for_devices(self, devices: Sequence[str]) -> dict[str, Any]:
        """``SecurityGroupServerRpcApi.security_group_info_for_devices``."""
        return dict(self.security.security_group_info_for_devices(self.context, list(devices)))

    def update_device_list(self, up: Sequence[str], down: Sequence[str]) -> dict[str, Any]:
        """``PluginApi.update_device_list`` (split in steps by neutron)."""
        return dict(self.plugin.update_device_list(
            self.context, list(up), list(down), self.agent_id, self.host))

    def get_qos_rules(self, policy_id: str) -> list[dict[str, Any]] | None:
        """Pull the QosPolicy object; its rules as dicts."""
        try:
            policy = self.resources.pull(self.context, resources.QOS_POLICY, policy_id)
        except resources_rpc.ResourceNotFound:
            return None
        return [dict(rule.to_dict()) for rule in policy.rules]

    def update_subport_bindings(self, subports: Sequence[Mapping[str, str]]
                                ) -> dict[str, list[dict[str, Any]]]:
        """``TrunkStub.update_subport_bindings``."""
        answer = self.trunks.update_subport_bindings(
            self.context, [dict(sub) for sub in subports]) or {}
        return {str(trunk): list(ports) for trunk, ports in answer.items()}

    def update_trunk_status(self, trunk_id: str, status: str) -> None:
        """``TrunkStub.update_trunk_status``."""
        self.trunks.update_trunk_status(self.context, trunk_id, status)


class AgentRpcCallbacks:
    """The RPC endpoint for neutron's notifications to L2 agents."""

    def __init__(self, tracker: PortTracker, host: str | None = None) -> None:
        self.target = oslo_messaging.Target(version=CALLBACKS_VERSION)
        self.tracker = tracker
        self.host = host

    def port_update(self, context: Any, **kwargs: Any) -> None:
        """A port changed (any host's: the topic is fanout)."""
        self.tracker.mark_updated([kwargs["port"]["id"]])

    def port_delete(self, context: Any, **kwargs: Any) -> None:
        """A port was deleted: disconnect it if it is here."""
        self.tracker.mark_deleted([kwargs["port_id"]])

    def network_update(self, context: Any, **kwargs: Any) -> None:
        """A network changed: re-wire its ports."""
        self.tracker.mark_network(kwargs["network"]["id"])

    def network_delete(self, context: Any, **kwargs: Any) -> None:
        """A network was deleted: disconnect its ports."""
        self.tracker.mark_network(kwargs["network_id"], deleted=True)

    def security_groups_rule_updated(self, context: Any, **kwargs: Any) -> None:
        """Rules of these security groups changed."""
        self.tracker.mark_groups(kwargs.get("security_groups") or ())

    def security_groups_member_updated(self, context: Any, **kwargs: Any) -> None:
        """Members (ports, addresses) of these security groups changed."""
        self.tracker.mark_groups(kwargs.get("security_groups") or ())

    def security_groups_provider_updated(self, context: Any, **kwargs: Any) -> None:
        """Provider rules changed (older servers): re-wire the ports named,
        or every port."""
        self.tracker.mark_updated(kwargs.get("devices_to_update") or self.tracker.known())

    def address_groups_pushed(self, context: Any, resource_type: str,
                              objects: Sequence[Any], event_type: str) -> None:
        """Address groups changed or were deleted (pushed objects)."""
        self.tracker.mark_groups(str(obj.id) for obj in objects)

    def qos_policies_pushed(self, context: Any, resource_type: str,
                            objects: Sequence[Any], event_type: str) -> None:
        """QoS policies changed or were deleted (pushed objects)."""
        self.tracker.mark_qos_policies(str(obj.id) for obj in objects)

    def trunks_pushed(self, context: Any, resource_type: str,
                      objects: Sequence[Any], event_type: str) -> None:
        """Trunks were created or deleted: re-wire their parent ports."""
        self.tracker.mark_updated(str(obj.port_id) for obj in objects)

    def subports_pushed(self, context: Any, resource_type: str,
                        objects: Sequence[Any], event_type: str) -> None:
        """Subports were added to or removed from trunks: re-wire the parents."""
        self.tracker.mark_trunks(str(obj.trunk_id) for obj in objects)

    def binding_activate(self, context: Any, **kwargs: Any) -> None:
        """A port's binding to a host became active (the end of a live
        migration): on this host, wire the port and report it up."""
        if kwargs.get("host") == self.host:
            self.tracker.mark_updated([kwargs["port_id"]])

    def binding_deactivate(self, context: Any, **kwargs: Any) -> None:
        """A port's binding here became inactive (its VM is migrating away).
        Nothing to undo: the switch port leaves with the VM (Hyper-V moves
        a VM's port settings with it), and re-wiring it now would only find
        ``no_active_binding``."""


def create_consumers(callbacks: AgentRpcCallbacks) -> Any:
    """Subscribe *callbacks* to neutron's notifications; returns the
    connection (not yet consuming: call ``consume_in_threads``)."""
    connection = agent_rpc.create_consumers(
        [callbacks], topics.AGENT,
        [[topics.PORT, topics.UPDATE], [topics.PORT, topics.DELETE],
         [topics.NETWORK, topics.UPDATE], [topics.NETWORK, topics.DELETE],
         [topics.SECURITY_GROUP, topics.UPDATE],
         [topics.PORT_BINDING, topics.ACTIVATE], [topics.PORT_BINDING, topics.DEACTIVATE]],
        start_listening=False)
    pushed: Mapping[str, Any] = {resources.ADDRESSGROUP: callbacks.address_groups_pushed,
                                 resources.QOS_POLICY: callbacks.qos_policies_pushed,
                                 resources.TRUNK: callbacks.trunks_pushed,
                                 resources.SUBPORT: callbacks.subports_pushed}
    for resource_type, handler in pushed.items():
        registry.register(handler, resource_type)
        connection.create_consumer(resources_rpc.resource_type_versioned_topic(resource_type),
                                   [resources_rpc.ResourcesPushRpcCallback()], fanout=True)
    return connection


class ReconnectWatch(logging.Handler):
    """Calls *on_reconnect* each time oslo.messaging reconnects to RabbitMQ.

    Neutron's notifications are casts to fanout queues that the agent's
    consumers declare.  A restarted broker has lost them (they are not
    durable), and whatever neutron cast before the agent's consumers
    declared them again is gone: a rule added, a port updated, during or
    just after the outage.  Only a resync recovers that, as neutron's own
    agents do a full sync when the server says it had counted them dead;
    this one does not wait that long.  (A connection merely cut keeps the
    queues, which expire after 30 unused minutes: that resync finds
    nothing to do, at the cost of reads.)

    oslo.messaging offers no reconnection callback: its RabbitMQ driver
    logs ``Reconnected to AMQP server ...`` (INFO) once a connection is back
    and the queues of its consumers are declared again, and this log
    handler on that driver's logger watches for it.  The logger is set to
    INFO when it was quieter, so that the record is made.
    """

    #: The logger of oslo.messaging's RabbitMQ driver (oslo.log's name).
    LOGGER = "oslo.messaging._drivers.impl_rabbit"
    #: What the driver logs after a reconnection.
    RECONNECTED = "Reconnected to AMQP server"

    def __init__(self, on_reconnect: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.on_reconnect = on_reconnect

    def emit(self, record: logging.LogRecord) -> None:
        if self.RECONNECTED in str(record.msg):
            self.on_reconnect("reconnected to RabbitMQ: notifications sent while the "
                              "connection was down may be lost")

    def install(self) -> ReconnectWatch:
        """Start watching; returns self."""
        logger = logging.getLogger(self.LOGGER)
        if not logger.isEnabledFor(logging.INFO):
            logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def remove(self) -> None:
        """Stop watching."""
        logging.getLogger(self.LOGGER).removeHandler(self)


def close_consumers(connection: Any, timeout: float = 10.0) -> None:
    """Stop every RPC server of *connection* at once, then wait for them.

    neutron_lib's ``Connection.close`` stops the servers one after another,
    and each stop waits for its listener's current poll to end; with a
    dozen consumers that added up to more than the time a service manager
    gives a process after SIGTERM.
    """
    servers = list(getattr(connection, "servers", []))
    stoppers = [threading.Thread(target=server.stop, daemon=True) for server in servers]
    for thread in stoppers:
        thread.start()
    for thread in stoppers:
        thread.join(timeout)
    for server in servers:
        server.wait()
