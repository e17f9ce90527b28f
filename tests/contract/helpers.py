"""Small builders for contract tests, using only ``winstackers.cim``.

They do what Hyper-V management code does (clone the ``...\\Default``
setting, change it, pass it as an embedded instance), so the same steps
work on a real host.
"""

from __future__ import annotations

import uuid
from typing import Any

from winstackers.cim import Instance, Reference, Session, call

VSSD = "Msvm_VirtualSystemSettingData"
NIC = "Msvm_SyntheticEthernetPortSettingData"
CONNECTION = "Msvm_EthernetPortAllocationSettingData"
VLAN = "Msvm_EthernetSwitchPortVlanSettingData"
SECURITY = "Msvm_EthernetSwitchPortSecuritySettingData"
ACL = "Msvm_EthernetSwitchPortExtendedAclSettingData"
OFFLOAD = "Msvm_EthernetSwitchPortOffloadSettingData"
BANDWIDTH = "Msvm_EthernetSwitchPortBandwidthSettingData"
PROFILE = "Msvm_EthernetSwitchPortProfileSettingData"
GEN1 = "Microsoft:Hyper-V:SubType:1"
GEN2 = "Microsoft:Hyper-V:SubType:2"
OFF, RUNNING, SAVED, PAUSED = 3, 2, 6, 9


def unique(prefix: str = "winstackers-test") -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Host:
    """Steps on one host; remembers the VMs and switches it created."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.vsms = session.query("SELECT * FROM Msvm_VirtualSystemManagementService")[0].path
        self.switch_service = session.query(
            "SELECT * FROM Msvm_VirtualEthernetSwitchManagementService")[0].path
        self.vms: list[Reference] = []
        self.switches: list[Reference] = []

    # -- lookups ----------------------------------------------------------
    def default(self, class_name: str) -> Instance:
        """The ``...\\Default`` instance of a setting class."""
        found = self.session.query(
            rf"SELECT * FROM {class_name} WHERE InstanceID LIKE '%\\Default'")
        assert found, f"no default {class_name}"
        return found[0]

    def settings(self, system: Reference) -> Instance:
        """The settings of a VM or switch."""
        found = self.session.associators(system, assoc_class="Msvm_SettingsDefineState",
                                         role="ManagedElement")
        assert len(found) == 1
        return found[0]

    def switch(self, name: str) -> Reference:
        """A vSwitch by name."""
        found = self.session.query(
            f"SELECT * FROM Msvm_VirtualEthernetSwitch WHERE ElementName = '{name}'")
        assert len(found) == 1, f"{len(found)} switches named {name}"
        path = found[0].path
        assert path is not None
        return path

    def features(self, connection: Reference, class_name: str | None = None) -> list[Instance]:
        """The feature settings of a connection."""
        return self.session.associators(connection,
                                        assoc_class="Msvm_EthernetPortSettingDataComponent",
                                        result_class=class_name)

    # -- steps --------------------------------------------------------------
    def call(self, method: str, target: Reference | None = None, **params: Any) -> Any:
        """Invoke a VSMS method (or one on *target*) and wait for its job."""
        return call(self.session, target or self.vsms, method, params)

    def define_vm(self, name: str | None = None, generation: int = 2,
                  **settings: Any) -> Reference:
        """A new VM (off)."""
        vssd = self.session.new_instance(VSSD, {
            "ElementName": name or unique(),
            "VirtualSystemSubType": GEN2 if generation == 2 else GEN1, **settings})
        vm = self.call("DefineSystem", SystemSettings=vssd)["ResultingSystem"]
        self.vms.append(vm)
        return vm

    def define_switch(self, name: str | None = None, iov: bool = False,
                      bandwidth_mode: int = 0) -> Reference:
        """A new private vSwitch."""
        settings = self.session.new_instance("Msvm_VirtualEthernetSwitchSettingData", {
            "ElementName": name or unique(), "IOVPreferred": iov,
            "BandwidthReservationMode": bandwidth_mode})
        switch = self.call("DefineSystem", self.switch_service,
                           SystemSettings=settings)["ResultingSystem"]
        self.switches.append(switch)
        return switch

    def add_nic(self, vm: Reference, name: str | None = None, mac: str | None = None) -> Reference:
        """A network adapter on *vm* (dynamic MAC unless *mac*)."""
        nic = self.default(NIC).replace(ElementName=name or unique("nic"),
                                        StaticMacAddress=mac is not None, Address=mac)
        vssd = self.settings(vm).path
        return self.call("AddResourceSettings", AffectedConfiguration=vssd,
                         ResourceSettings=[nic])["ResultingResourceSettings"][0]

    def connect(self, vm: Reference, nic: Reference, switch: Reference) -> Reference:
        """Connect *nic* to *switch*; returns the connection."""
        connection = self.default(CONNECTION).replace(Parent=nic.path,
                                                      HostResource=[switch.path])
        vssd = self.settings(vm).path
        return self.call("AddResourceSettings", AffectedConfiguration=vssd,
                         ResourceSettings=[connection])["ResultingResourceSettings"][0]

    def port(self, generation: int = 2, switch: Reference | None = None,
             name: str | None = None) -> tuple[Reference, Reference, Reference]:
        """A VM with one connected adapter: (vm, nic, connection)."""
        vm = self.define_vm(generation=generation)
        nic = self.add_nic(vm, name)
        connection = self.connect(vm, nic, switch or self.define_switch())
        return vm, nic, connection

    def add_features(self, connection: Reference, *features: Instance) -> list[Reference]:
        """Add feature settings to a connection in one call."""
        return self.call("AddFeatureSettings", AffectedConfiguration=connection,
                         FeatureSettings=list(features))["ResultingFeatureSettings"]

    def feature(self, class_name: str, **values: Any) -> Instance:
        """A feature setting cloned from its default, with *values*."""
        return self.default(class_name).replace(**values)

    def acl(self, direction: int, action: int, weight: int, **values: Any) -> Instance:
        """An extended ACL rule."""
        return self.feature(ACL, Direction=direction, Action=action, Weight=weight, **values)

    def set_state(self, vm: Reference, state: int) -> None:
        """RequestStateChange and wait."""
        self.call("RequestStateChange", vm, RequestedState=state)

    def cleanup(self) -> None:
        """Turn off and destroy what this helper created."""
        for vm in self.vms:
            try:
                if self.session.get(vm)["EnabledState"] not in (OFF, SAVED):
                    self.set_state(vm, OFF)
                self.call("DestroySystem", AffectedSystem=vm)
            except Exception:  # noqa: BLE001 - the test may have destroyed it
                pass
        for switch in self.switches:
            try:
                self.call("DestroySystem", self.switch_service, AffectedSystem=switch)
            except Exception:  # noqa: BLE001
                pass
