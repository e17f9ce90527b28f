"""An in-memory neutron plugin for the agent's tests.

It implements :class:`winstackers.neutron.agent.rpc.PluginRpc`, the only
neutron the agent loop talks to, with answers shaped like neutron 29's
(``neutron/plugins/ml2/rpc.py`` ``_get_device_details`` and
``neutron/db/securitygroups_rpc_base.py`` ``security_group_info_for_ports``).
The real-neutron proof is the functional suite (``tests/functional/``).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

SG = "11111111-1111-4111-8111-111111111111"
NET = "22222222-2222-4222-8222-222222222222"


class FakePlugin:
    """Ports, security groups, QoS policies; records what the agent says."""

    def __init__(self) -> None:
        self.ports: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, list[dict[str, Any]]] = {SG: []}
        self.stateful: dict[str, bool] = {}
        self.members: dict[str, list[str]] = {}
        self.qos: dict[str, list[dict[str, Any]]] = {}
        self.status: dict[str, str] = {}
        self.reports: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.failing: set[str] = set()
        self.asked: list[list[str]] = []
        self.asked_security: list[list[str]] = []
        #: Trunk statuses set by the agent, subports bound to its host, and
        #: subports neutron cannot bind (as when ML2 finds no driver).
        self.trunk_status: dict[str, str] = {}
        self.subports_bound: dict[str, str] = {}
        self.unbindable: set[str] = set()
        self._lock = threading.Lock()

    # -- test set-up ------------------------------------------------------------
    def add_port(self, port_id: str, *, network_type: str = "vlan",
                 physnet: str | None = "physnet1", segmentation_id: int | None = 100,
                 ips: tuple[str, ...] = ("10.0.0.5",), mac: str = "fa:16:3e:00:00:05",
                 groups: tuple[str, ...] = (SG,), **extra: Any) -> None:
        """A port bound to the agent's host (``extra``: vnic_type,
        port_security_enabled, admin_state_up, qos_policy_id, trunk_vlans,
        allowed_address_pairs)."""
        self.ports[port_id] = {"network_type": network_type, "physical_network": physnet,
                               "segmentation_id": segmentation_id, "ips": ips, "mac": mac,
                               "groups": groups, **extra}

    def _check(self, method: str) -> None:
        self.calls[method] += 1
        if method in self.failing:
            raise RuntimeError(f"{method}: injected RPC failure (MessagingTimeout)")

    # -- PluginRpc -----------------------------------------------------------------
    def report_state(self, state: dict[str, Any]) -> None:
        self._check("report_state")
        self.reports.append(state)

    def get_devices_details_list(self, devices: Sequence[str]) -> list[dict[str, Any]]:
        self._check("get_devices_details_list")
        self.asked.append(list(devices))
        return [self._details(device) for device in devices]

    def _details(self, device: str) -> dict[str, Any]:
        port = self.ports.get(device)
        if port is None:
            return {"device": device}
        return {
            "device": device, "port_id": device, "network_id": NET,
            "mac_address": port["mac"], "admin_state_up": port.get("admin_state_up", True),
            "network_type": port["network_type"], "segmentation_id": port["segmentation_id"],
            "physical_network": port["physical_network"], "mtu": 1500,
            "fixed_ips": [{"subnet_id": "s", "ip_address": ip} for ip in port["ips"]],
            "device_owner": "compute:nova",
            "allowed_address_pairs": port.get("allowed_address_pairs", []),
            "port_security_enabled": port.get("port_security_enabled", True),
            "qos_policy_id": port.get("qos_policy_id"), "qos_network_policy_id": None,
            "profile": {}, "propagate_uplink_status": False}

    def security_group_info_for_devices(self, devices: Sequence[str]) -> dict[str, Any]:
        self._check("security_group_info_for_devices")
        self.asked_security.append(list(devices))
        ports = {d: self._port_dict(d) for d in devices if d in self.ports}
        groups = {sg for port in ports.values() for sg in port["security_groups"]}
        rules = {sg: [{**rule, "stateful": self.stateful.get(sg, True)}
                      for rule in self.rules.get(sg, [])] for sg in groups}
        remote = {str(r[k]) for found in rules.values() for r in found
                  for k in ("remote_group_id", "remote_address_group_id") if r.get(k)}
        members = {gid: {"IPv4": [[ip, None] for ip in self.members.get(gid, [])
                                  if ":" not in ip],
                         "IPv6": [[ip, None] for ip in self.members.get(gid, []) if ":" in ip]}
                   for gid in remote}
        return {"devices": ports, "security_groups": rules, "sg_member_ips": members}

    def _port_dict(self, device: str) -> dict[str, Any]:
        port = self.ports[device]
        found: dict[str, Any] = {
            "id": device, "mac_address": port["mac"], "fixed_ips": list(port["ips"]),
            "security_groups": list(port["groups"]),
            "binding:vnic_type": port.get("vnic_type", "normal"),
            "port_security_enabled": port.get("port_security_enabled", True)}
        if port.get("trunk_vlans") is not None:
            found["trunk_details"] = {"trunk_id": trunk_of(device), "sub_ports": [
                {"segmentation_type": "vlan", "segmentation_id": vlan,
                 "port_id": subport_of(device, vlan)} for vlan in port["trunk_vlans"]]}
        return found

    def update_device_list(self, up: Sequence[str], down: Sequence[str]) -> dict[str, Any]:
        self._check("update_device_list")
        with self._lock:
            self.status.update(dict.fromkeys(up, "ACTIVE"))
            self.status.update(dict.fromkeys(down, "DOWN"))
        return {"devices_up": list(up), "failed_devices_up": [],
                "devices_down": list(down), "failed_devices_down": []}

    def get_qos_rules(self, policy_id: str) -> list[dict[str, Any]] | None:
        self._check("get_qos_rules")
        return self.qos.get(policy_id)

    def update_subport_bindings(self, subports: Sequence[Any]) -> dict[str, list[dict[str, Any]]]:
        """As neutron's trunk RPC: binds each subport it can, answers the
        bound port dicts by trunk (``TrunkSkeleton.update_subport_bindings``)."""
        self._check("update_subport_bindings")
        bound: dict[str, list[dict[str, Any]]] = {}
        for sub in subports:
            if sub["port_id"] in self.unbindable:
                continue
            self.subports_bound[sub["port_id"]] = sub["trunk_id"]
            bound.setdefault(sub["trunk_id"], []).append({"id": sub["port_id"]})
        return bound

    def update_trunk_status(self, trunk_id: str, status: str) -> None:
        self._check("update_trunk_status")
        self.trunk_status[trunk_id] = status


def trunk_of(parent: str) -> str:
    """The trunk id of a parent port in the fake."""
    return f"trunk-{parent}"


def subport_of(parent: str, vlan: int) -> str:
    """The subport id for *vlan* of a parent port in the fake."""
    return f"sub-{vlan}-{parent}"


def ingress(protocol: str | None = None, low: int | None = None, high: int | None = None,
            prefix: str | None = None, **extra: Any) -> dict[str, Any]:
    """An ingress IPv4 rule as the security group RPC sends it."""
    rule: dict[str, Any] = {"direction": "ingress", "ethertype": "IPv4", **extra}
    for key, value in (("protocol", protocol), ("port_range_min", low),
                       ("port_range_max", high), ("source_ip_prefix", prefix)):
        if value is not None:
            rule[key] = value
    return rule


def egress_any() -> dict[str, Any]:
    """The default egress rule of a security group (IPv4)."""
    return {"direction": "egress", "ethertype": "IPv4"}
