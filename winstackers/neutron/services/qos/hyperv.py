"""QoS on Hyper-V ports: the rules neutron accepts for vif_type ``hyperv``.

neutron-server validates every QoS policy on a bound port against the QoS
driver registered for the port's vif_type
(``neutron.services.qos.drivers.manager.QosServiceDriverManager``); a
vif_type without one has all its policies refused.  This driver declares
what the Hyper-V agent enforces with the port's bandwidth feature
(``Msvm_EthernetSwitchPortBandwidthSettingData``:
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportbandwidthsettingdata):

``bandwidth_limit``, direction ``egress``
    ``max_kbps`` becomes the port's ``Limit``, ``max_burst_kbps`` its burst.
``minimum_bandwidth``, direction ``egress``
    ``min_kbps`` becomes the port's ``Reservation``; at least
    :data:`MIN_RESERVATION_KBPS`, the smallest reservation the host library
    accepts (:data:`winstackers.hyperv.portstate.MIN_RESERVATION_BPS`).

Why egress only.  In neutron a rule's direction is seen from the instance:
``egress`` is what the VM sends, ``ingress`` what it receives
(https://docs.openstack.org/neutron/latest/admin/config-qos.html).  A Hyper-V
port has one ``Limit`` and one ``Reservation``: the class has no direction
property and ``Set-VMNetworkAdapter -MaximumBandwidth`` /
``-MinimumBandwidthAbsolute`` take none
(https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmnetworkadapter).
One setting cannot honour two rules of opposite direction, so the driver
accepts one direction and refuses the other instead of applying a rule to
traffic it was not written for.  It accepts egress, as neutron's SR-IOV QoS
driver does for its one-direction VF rate limit
(``neutron/services/qos/drivers/sriov/driver.py``).
Microsoft does not state which way the port setting shapes; that is a fact
to confirm on a real host (a ``hyperv_verified`` test), and the one to
revisit if Hyper-V turns out to shape what the VM receives.  The VFP QoS
class that does have an inbound cap
(``Msvm_EthernetSwitchPortMigrationQosSettingData.InboundMaximumMbps``) is
part of the Network Controller (HNV) data path, not of the plain vSwitch
ports this driver covers.

Why not on ``vnic_type=direct`` ports.  Traffic of a VM connected to an SR-IOV
virtual function flows between the VM and the VF directly; the extensible
switch does not take part in it
(https://learn.microsoft.com/en-us/windows-hardware/drivers/network/sr-iov-architecture),
so the port's bandwidth settings would not hold.  Every rule is refused on
direct ports.

Everything else (``dscp_marking``, ``packet_rate_limit``,
``minimum_packet_rate``, ingress) is refused: neutron answers
409 "Rule <type> is not supported by port <id>" and this driver logs why, at
WARNING, naming the rule.  Neutron's kbps are 1000 bit/s, as for the
reference agents (tc's ``kbit``); the agent converts with
:data:`BITS_PER_KBIT`.

The agent learns policies through neutron's RPC push
(``requires_rpc_notifications``), as the reference agents do.

Not done: placement.  neutron turns a ``minimum_bandwidth`` rule into the
port's ``resource_request`` (``NET_BW_EGR_KILOBIT_PER_SEC`` with the
physical network and vnic_type traits) and nova schedules on it; Hyper-V
agents report no bandwidth inventory (``resource_provider_bandwidths``) and
the mechanism driver has no ``resource_provider_uuid5_namespace``, so a VM
cannot be booted with such a port yet.  The reservation is enforced on the
host (data plane only) for a policy set on a port after boot.
"""

from __future__ import annotations

import math
from typing import Any

from neutron_lib import constants as n_const
from neutron_lib.api import validators as lib_validators
from neutron_lib.api.definitions import portbindings
from neutron_lib.db import constants as db_consts
from neutron_lib.plugins import utils as plugin_utils
from neutron_lib.services.qos import base
from neutron_lib.services.qos import constants as qos_consts
from oslo_log import log as logging

from winstackers.hyperv.portstate import MIN_RESERVATION_BPS
from winstackers.neutron import constants

LOG = logging.getLogger(__name__)

NAME = "hyperv"
BITS_PER_KBIT = 1000
#: Smallest ``min_kbps`` accepted: the host library's minimum reservation.
MIN_RESERVATION_KBPS = math.ceil(MIN_RESERVATION_BPS / BITS_PER_KBIT)

_EGRESS_ONLY = {"type:values": [n_const.EGRESS_DIRECTION]}

SUPPORTED_RULES: dict[str, dict[str, dict[str, Any]]] = {
    qos_consts.RULE_TYPE_BANDWIDTH_LIMIT: {
        qos_consts.MAX_KBPS: {"type:range": [0, db_consts.DB_INTEGER_MAX_VALUE]},
        qos_consts.MAX_BURST: {"type:range": [0, db_consts.DB_INTEGER_MAX_VALUE]},
        qos_consts.DIRECTION: _EGRESS_ONLY,
    },
    qos_consts.RULE_TYPE_MINIMUM_BANDWIDTH: {
        qos_consts.MIN_KBPS: {
            "type:range": [MIN_RESERVATION_KBPS, db_consts.DB_INTEGER_MAX_VALUE]},
        qos_consts.DIRECTION: _EGRESS_ONLY,
    },
}

#: Why a parameter value is refused, per parameter (said in the log).
_PARAMETER_REASONS = {
    qos_consts.DIRECTION: (
        "a Hyper-V port's bandwidth setting has no direction and is enforced on what "
        "the VM sends (egress) only"),
    qos_consts.MIN_KBPS: (
        f"Hyper-V reservations start at {MIN_RESERVATION_KBPS} kbps "
        f"({MIN_RESERVATION_BPS} bit/s)"),
}

#: The last driver :func:`register` made (the one the QoS plugin knows).
DRIVER: HyperVQosDriver | None = None


def refusal(rule: Any) -> str | None:
    """Why a Hyper-V port cannot enforce ``rule``, or None when it can."""
    parameters = SUPPORTED_RULES.get(rule.rule_type)
    if parameters is None:
        return (f"rule type {rule.rule_type!r} cannot be enforced on a Hyper-V port "
                f"(supported: {', '.join(sorted(SUPPORTED_RULES))})")
    for parameter, checks in parameters.items():
        value = rule.get(parameter)
        for validator_type, validator_data in checks.items():
            problem = lib_validators.get_validator(validator_type)(value, validator_data)
            if problem:
                why = _PARAMETER_REASONS.get(parameter, problem)
                return f"{parameter}={value!r} cannot be enforced: {why}"
    return None


class HyperVQosDriver(base.DriverBase):  # type: ignore[misc]
    """Declares the QoS rules Hyper-V ports enforce (module docstring)."""

    @classmethod
    def create(cls) -> HyperVQosDriver:
        return cls(
            name=NAME,
            vif_types=[constants.VIF_TYPE_HYPERV],
            vnic_types=[portbindings.VNIC_NORMAL],
            supported_rules=SUPPORTED_RULES,
            requires_rpc_notifications=True)

    def is_rule_supported(self, rule: Any) -> bool:
        why = refusal(rule)
        if why:
            LOG.warning("QoS rule %(rule)s (policy %(policy)s) refused by the %(name)s QoS "
                        "driver: %(why)s",
                        {"rule": rule.id, "policy": rule.qos_policy_id, "name": self.name,
                         "why": why})
            return False
        return True

    def validate_rule_for_port(self, context: Any, rule: Any, port: Any) -> bool:
        binding = plugin_utils.get_port_binding_by_status_and_host(
            port.bindings, n_const.ACTIVE)
        vnic_type = binding.vnic_type if binding else portbindings.VNIC_NORMAL
        if vnic_type == portbindings.VNIC_DIRECT:
            LOG.warning("QoS rule %(rule)s refused on port %(port)s by the %(name)s QoS "
                        "driver: the port is SR-IOV (vnic_type direct), its traffic bypasses "
                        "the Hyper-V switch and its bandwidth settings",
                        {"rule": rule.id, "port": port.id, "name": self.name})
            return False
        return True


def register() -> HyperVQosDriver:
    """Make the driver; it joins the QoS plugin when that plugin starts.

    The mechanism driver calls this from its ``__init__`` (ML2 loads before
    the service plugins), as neutron's Open vSwitch and SR-IOV mechanism
    drivers call theirs.  ``DriverBase`` subscribes the new driver to the QoS
    plugin's AFTER_INIT event in the callback registry of the moment.
    """
    global DRIVER
    DRIVER = HyperVQosDriver.create()
    LOG.debug("Hyper-V QoS driver registered")
    return DRIVER
