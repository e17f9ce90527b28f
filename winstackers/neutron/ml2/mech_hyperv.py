"""The ML2 mechanism driver ``hyperv``: binds ports on Hyper-V hosts.

Enable it in neutron-server's ML2 configuration::

    [ml2]
    mechanism_drivers = hyperv

A port is bound on host H when H runs a live agent of type "HyperV agent"
(``binding:host_id`` = the agent's ``host``) and one of the port's network
segments is reachable from H according to that agent's reported
``configurations`` (the contract: :mod:`winstackers.neutron.configurations`):

- ``flat`` and ``vlan`` segments: the segment's physical network resolves to
  a vSwitch through ``vswitch_mappings`` (exact names and ``*`` patterns);
- ``local`` segments: the agent reports a ``local_vswitch``;
- ``vnic_type`` ``normal`` or ``direct``, and the agent lists it in
  ``supported_vnic_types``; a ``direct`` (SR-IOV) port is bound only when
  the segment's vSwitch is in ``sriov_vswitches``, else the driver logs why
  at WARNING and the port is left unbound (``binding_failed`` when no other
  driver binds it).

No tunnel types: Hyper-V network virtualization is the HNV driver's job.
Dead agents are never bound to (neutron's base class logs them).  Until the
agent reports the port up, neutron keeps it DOWN (a provisioning block).

A bound port gets ``binding:vif_type`` ``hyperv`` and ``binding:vif_details``:

- ``port_filter``: True for ``normal`` ports, whose security groups and
  anti-spoofing the agent enforces as Hyper-V port ACLs; False for
  ``direct`` ports, whose traffic bypasses the switch and its ACLs
  (https://learn.microsoft.com/en-us/windows-hardware/drivers/network/sr-iov-architecture),
  so nothing filters them: the same answer neutron's SR-IOV driver gives;
- ``connectivity``: ``l2``;
- ``vswitch``: the vSwitch the port belongs on, so the compute driver can
  connect the vNIC where the agent expects it.

Nova 34 knows vif_type ``hyperv`` but converts no such VIF to os-vif, and
nothing in nova 34 reads other vif_details keys for it (its Hyper-V driver
was removed); Winstackers' compute driver is the reader of these details.

The driver also makes the QoS and trunk drivers for vif_type ``hyperv``
(:mod:`winstackers.neutron.services.qos.hyperv`,
:mod:`winstackers.neutron.services.trunk.hyperv`), as neutron's own
mechanism drivers do, so the QoS and trunk plugins accept these ports.
"""

from __future__ import annotations

from typing import Any

from neutron.plugins.ml2.drivers import mech_agent
from neutron_lib import constants as n_const
from neutron_lib.api.definitions import portbindings
from neutron_lib.api.definitions import qinq as qinq_apidef
from neutron_lib.api.definitions import vlantransparent as vlan_apidef
from neutron_lib.plugins.ml2 import api
from oslo_log import log

from winstackers.neutron import constants
from winstackers.neutron.configurations import (
    AgentConfigurations,
    InvalidAgentConfigurations,
    vswitch_for_physnet,
)
from winstackers.neutron.services.qos import hyperv as qos_driver
from winstackers.neutron.services.trunk import hyperv as trunk_driver

LOG = log.getLogger(__name__)

NETWORK_TYPES = (n_const.TYPE_FLAT, n_const.TYPE_VLAN, n_const.TYPE_LOCAL)
SUPPORTED_VNIC_TYPES = [portbindings.VNIC_NORMAL, portbindings.VNIC_DIRECT]


class HyperVMechanismDriver(mech_agent.SimpleAgentMechanismDriverBase):  # type: ignore[misc]
    """Attach ports to Hyper-V vSwitches through the Hyper-V L2 agent."""

    # A Hyper-V port passes one VLAN (access) or a list (trunk), never the
    # guest's own tags transparently, nor stacked (802.1ad) tags.
    _explicitly_not_supported_extensions = {vlan_apidef.ALIAS, qinq_apidef.ALIAS}

    def __init__(self) -> None:
        super().__init__(
            constants.AGENT_TYPE_HYPERV,
            constants.VIF_TYPE_HYPERV,
            {portbindings.CAP_PORT_FILTER: True},
            supported_vnic_types=list(SUPPORTED_VNIC_TYPES))
        qos_driver.register()
        trunk_driver.register()

    @property
    def connectivity(self) -> str:
        return str(portbindings.CONNECTIVITY_L2)

    def get_allowed_network_types(self, agent: Any = None) -> tuple[str, ...]:
        return NETWORK_TYPES

    def get_mappings(self, agent: Any) -> dict[str, str]:
        configs = self._configurations(agent)
        return dict(configs.vswitch_mappings) if configs else {}

    def physnet_in_mappings(self, physnet: str, mappings: dict[str, str]) -> bool:
        return vswitch_for_physnet(physnet, mappings) is not None

    def check_segment_for_agent(self, segment: dict[str, Any], agent: Any) -> bool:
        return self._vswitch_for(segment, agent)[1] is not None

    def try_to_bind_segment_for_agent(
            self, context: Any, segment: dict[str, Any], agent: Any) -> bool:
        configs, vswitch = self._vswitch_for(segment, agent)
        if configs is None or vswitch is None:
            return False
        vnic_type = context.current.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL)
        why = configs.vnic_refusal(vnic_type, vswitch)
        if why:
            LOG.warning("Not binding port %(port)s on host %(host)s, segment %(segment)s: "
                        "%(why)s",
                        {"port": context.current["id"], "host": agent["host"],
                         "segment": segment[api.ID], "why": why})
            return False
        context.set_binding(segment[api.ID], self.vif_type,
                            self._vif_details(vnic_type, vswitch))
        return True

    def _vif_details(self, vnic_type: str, vswitch: str) -> dict[str, Any]:
        details = dict(self.vif_details)
        details[portbindings.CAP_PORT_FILTER] = vnic_type != portbindings.VNIC_DIRECT
        details[constants.VIF_DETAILS_VSWITCH] = vswitch
        return details

    def _vswitch_for(
            self, segment: dict[str, Any], agent: Any,
    ) -> tuple[AgentConfigurations | None, str | None]:
        """The agent's configurations and the vSwitch for ``segment`` (None: none)."""
        if agent["agent_type"] != self.agent_type:
            return None, None
        configs = self._configurations(agent)
        if configs is None:
            return None, None
        network_type = segment[api.NETWORK_TYPE]
        if network_type not in NETWORK_TYPES:
            LOG.debug("Segment %(segment)s is of type %(type)s; Hyper-V agents bind %(types)s",
                      {"segment": segment[api.ID], "type": network_type,
                       "types": NETWORK_TYPES})
            return configs, None
        physnet = segment.get(api.PHYSICAL_NETWORK)
        vswitch = configs.vswitch_for_segment(network_type, physnet)
        if vswitch is None:
            LOG.debug("Host %(host)s has no vSwitch for segment %(segment)s "
                      "(type %(type)s, physical network %(physnet)s): mappings %(mappings)s, "
                      "local vSwitch %(local)s",
                      {"host": agent["host"], "segment": segment[api.ID],
                       "type": network_type, "physnet": physnet,
                       "mappings": dict(configs.vswitch_mappings),
                       "local": configs.local_vswitch})
        return configs, vswitch

    @staticmethod
    def _configurations(agent: Any) -> AgentConfigurations | None:
        try:
            return AgentConfigurations.from_report(agent.get("configurations"))
        except InvalidAgentConfigurations as exc:
            LOG.error("Hyper-V agent on host %(host)s reported invalid configurations, "
                      "binding nothing on it: %(error)s",
                      {"host": agent.get("host"), "error": exc})
            return None
