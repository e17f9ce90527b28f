"""Names shared by the server side and the agent.

They are the names operators of the retired networking-hyperv knew, kept
as they were so existing deployments, scripts and nova keep working.
"""

from __future__ import annotations

#: ``agent_type`` the Hyper-V L2 agent reports (``openstack network agent
#: list`` shows it); the mechanism driver binds only on hosts with one alive.
AGENT_TYPE_HYPERV = "HyperV agent"

#: ``binding:vif_type`` of ports bound by the ``hyperv`` mechanism driver.
#: neutron-lib 5 no longer defines it (``neutron_lib.api.definitions.
#: portbindings`` lists no Hyper-V type); nova 34 still does
#: (``nova.network.model.VIF_TYPE_HYPERV = 'hyperv'``,
#: https://opendev.org/openstack/nova/src/branch/master/nova/network/model.py),
#: but nova's os-vif conversion refuses it, so the compute driver plugs such
#: VIFs itself (see ../shared/notes/nova-34-facts.md).
VIF_TYPE_HYPERV = "hyperv"

#: Name of the mechanism driver (its ``neutron.ml2.mechanism_drivers`` entry
#: point, the value operators put in ``[ml2] mechanism_drivers``).
MECHANISM_DRIVER_NAME = "hyperv"

#: ``binding:vif_details`` key: the vSwitch the port is bound to on its host.
VIF_DETAILS_VSWITCH = "vswitch"
