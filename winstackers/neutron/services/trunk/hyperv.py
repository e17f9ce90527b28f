"""Trunks on Hyper-V ports: the server-side trunk driver for vif_type ``hyperv``.

neutron's trunk plugin accepts a trunk only when a registered, loaded
driver serves the parent port's vif_type and the agent type on its host
(``neutron.services.trunk.rules.TrunkPortValidator``,
``neutron.services.trunk.utils.is_driver_compatible``), and refuses to
start when no loaded driver exists at all.  This driver serves vif_type
``hyperv`` on hosts with a "HyperV agent", with VLAN subports only: a Hyper-V
port in trunk mode carries a native VLAN untagged and a list of allowed
VLAN ids tagged (``Msvm_EthernetSwitchPortVlanSettingData``, OperationMode 2,
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportvlansettingdata).

It is loaded when ``hyperv`` is among ``[ml2] mechanism_drivers``.  It
registers as out-of-tree drivers must: the trunk plugin publishes AFTER_INIT
and every ``DriverBase`` made before then joins it; the mechanism driver
makes this one in its ``__init__`` (ML2 loads before service plugins).

``can_trunk_bound_port`` is True: a port's VLAN setting is a feature setting
of the switch port, changed in place by ``ModifyFeatureSettings`` (the host
library's ``SwitchPorts.apply``), with no need to recreate the vNIC as Open
vSwitch's trunk bridges need; so a trunk may be created on a parent port
that is already bound, and the agent must then switch that port to trunk
mode.

What the agent owes the trunk plugin (over neutron's trunk RPC, topic
``trunk``; the push callbacks are called as
``(context, resource_type, resources, event_type)`` since neutron 29):

- on a trunk or its subports being created/deleted: set the parent port to
  trunk mode with the subports' segmentation ids allowed (back to access or
  untagged when the trunk goes), then call ``update_subport_bindings`` so
  neutron binds the subports to the parent's host (ML2 binds them through
  the ``hyperv`` mechanism driver) and ``update_trunk_status`` with
  ``ACTIVE``, ``DEGRADED`` or ``ERROR``;
- report the subports up/down with the parent (``update_device_list``).
"""

from __future__ import annotations

from neutron.services.trunk.drivers import base
from neutron_lib.services.trunk import constants as trunk_consts
from oslo_config import cfg
from oslo_log import log as logging

from winstackers.neutron import constants

LOG = logging.getLogger(__name__)

NAME = "hyperv"
SUPPORTED_INTERFACES = (constants.VIF_TYPE_HYPERV,)
SUPPORTED_SEGMENTATION_TYPES = (trunk_consts.SEGMENTATION_TYPE_VLAN,)

#: The last driver :func:`register` made.
DRIVER: HyperVTrunkDriver | None = None


class HyperVTrunkDriver(base.DriverBase):  # type: ignore[misc]
    """Trunks with VLAN subports on Hyper-V ports (module docstring)."""

    @property
    def is_loaded(self) -> bool:
        try:
            return constants.MECHANISM_DRIVER_NAME in cfg.CONF.ml2.mechanism_drivers
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            return False

    @classmethod
    def create(cls) -> HyperVTrunkDriver:
        return cls(
            NAME,
            SUPPORTED_INTERFACES,
            SUPPORTED_SEGMENTATION_TYPES,
            agent_type=constants.AGENT_TYPE_HYPERV,
            can_trunk_bound_port=True)


def register() -> HyperVTrunkDriver:
    """Make the driver; it joins the trunk plugin when that plugin starts."""
    global DRIVER
    DRIVER = HyperVTrunkDriver.create()
    LOG.debug("Hyper-V trunk driver registered")
    return DRIVER
