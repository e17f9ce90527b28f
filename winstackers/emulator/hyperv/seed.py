"""What an emulated host holds before anyone has used it.

- the host's own ``Msvm_ComputerSystem`` (EnabledState 2, as a host always is);
- the management services Hyper-V code looks up (VSMS, the vSwitch service,
  the image service ``vhdsvc``) and the vSwitch service's capabilities
  (IOVSupport);
- one default instance per device and feature setting class, with an
  InstanceID ending in ``\\Default``, which Hyper-V code clones before
  adding a device or feature; for storage, one per ResourceSubType
  (controllers, drives, images: ``storage.populate_defaults``);
- the secure boot templates: Microsoft Windows and Microsoft UEFI
  Certificate Authority, as ``Msvm_VirtualSystemSettingData`` instances named
  after the template.  Microsoft documents the templates by name
  (https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/what-s-new-in-hyper-v-on-windows)
  but not how WMI exposes them; the GUIDs are the ones public Hyper-V code
  and PowerShell scripts use (``Set-VMFirmware -SecureBootTemplateId``).
  Their VirtualSystemType is null so that a query for realized VMs does
  not return them; code that lists settings without that filter sees them,
  as it would on a host;
- the vSwitches of the host configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from winstackers.emulator.hyperv import model, storage

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

SECURE_BOOT_TEMPLATES = {
    "MicrosoftWindows": "1734C6E8-3154-4DDA-BA5F-A874CC483422",
    "MicrosoftUEFICertificateAuthority": "272E7447-90A4-4563-A4B9-8E4AB00526CE",
}

#: Classes that get a ``...\Default`` instance, with the fixed values Hyper-V
#: documents for each (ResourceType / ResourceSubType on the class pages).
DEFAULTS: dict[str, dict[str, Any]] = {
    "Msvm_SyntheticEthernetPortSettingData": {
        "ResourceType": 10, "ResourceSubType": "Microsoft:Hyper-V:Synthetic Ethernet Port",
        "ElementName": "Network Adapter"},
    "Msvm_EthernetPortAllocationSettingData": {
        "ResourceType": 33, "ResourceSubType": "Microsoft:Hyper-V:Ethernet Connection",
        "ElementName": "Dynamic Ethernet Switch Port"},
    "Msvm_MemorySettingData": {"ResourceType": 4, "ResourceSubType": "Microsoft:Hyper-V:Memory",
                               "AllocationUnits": "byte * 2^20", "VirtualQuantity": 1024},
    "Msvm_ProcessorSettingData": {"ResourceType": 3,
                                  "ResourceSubType": "Microsoft:Hyper-V:Processor",
                                  "VirtualQuantity": 1, "Reservation": 0, "Limit": 100000,
                                  "Weight": 100},
    "Msvm_EthernetSwitchPortVlanSettingData": {"ElementName": "Ethernet Switch Port VLAN Settings"},
    "Msvm_EthernetSwitchPortSecuritySettingData": {
        "ElementName": "Ethernet Switch Port Security Settings"},
    "Msvm_EthernetSwitchPortExtendedAclSettingData": {
        "ElementName": "Ethernet Switch Port Extended ACL Settings"},
    "Msvm_EthernetSwitchPortOffloadSettingData": {
        "ElementName": "Ethernet Switch Port Offload Settings"},
    "Msvm_EthernetSwitchPortBandwidthSettingData": {
        "ElementName": "Ethernet Switch Port Bandwidth Settings"},
    "Msvm_EthernetSwitchPortProfileSettingData": {
        "ElementName": "Ethernet Switch Port Profile Settings"},
}


def populate(host: EmulatedHost) -> None:
    """Fill a new host with its initial instances."""
    store = host.store
    store.add("Msvm_ComputerSystem", {
        "CreationClassName": "Msvm_ComputerSystem", "Name": host.name,
        "ElementName": host.name, "Caption": "Hosting Computer System",
        "Description": "Microsoft Hosting Computer System", "EnabledState": 2})
    for cls, name in (("Msvm_VirtualSystemManagementService", "vmms"),
                      ("Msvm_VirtualEthernetSwitchManagementService", "nvspwmi"),
                      ("Msvm_ImageManagementService", "vhdsvc")):
        store.add(cls, {"CreationClassName": cls, "Name": name,
                        "SystemCreationClassName": "Msvm_ComputerSystem",
                        "SystemName": host.name, "ElementName": name})
    store.add("Msvm_VirtualEthernetSwitchManagementCapabilities", {
        "InstanceID": "Microsoft:VirtualEthernetSwitchManagementCapabilities",
        "IOVSupport": host.config.iov_support,
        "IOVSupportReasons": [] if host.config.iov_support else
        ["The host's network adapters do not support SR-IOV (emulated)."]})
    for index, (cls, values) in enumerate(sorted(DEFAULTS.items())):
        store.add(cls, {**values,
                        "InstanceID": f"Microsoft:Definition\\{index:08X}-0000-0000-0000-"
                                      f"000000000000\\Default"})
    storage.populate_defaults(host)
    for name, guid in SECURE_BOOT_TEMPLATES.items():
        store.add(model.VSSD, {"InstanceID": f"Microsoft:Definition\\SecureBootTemplate\\{guid}",
                               "ElementName": name, "SecureBootTemplateId": guid,
                               "VirtualSystemType": None, "VirtualSystemSubType": model.GEN2})
    from winstackers.emulator.hyperv import hostfacts
    from winstackers.emulator.hyperv.providers.switches import create_switch
    hostfacts.populate(host)
    for spec in host.config.switches:
        create_switch(host, spec.name, spec.iov, spec.bandwidth_mode, uplink=spec.uplink)
