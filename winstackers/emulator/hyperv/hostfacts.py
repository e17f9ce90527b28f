"""The emulated host's own facts: operating system, size, physical NICs.

- ``root/cimv2`` ``Win32_OperatingSystem`` (Caption, Version, BuildNumber,
  TotalVisibleMemorySize and FreePhysicalMemory in KB:
  https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-operatingsystem)
  and ``Win32_ComputerSystem`` (NumberOfLogicalProcessors,
  TotalPhysicalMemory in bytes:
  https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-computersystem).
  Free memory is computed when read: the host's memory less what running,
  paused or starting VMs hold, less 2 GB for the host itself.
  ``LastBootUpTime`` is when the emulated host was made (a DMTF datetime).
- ``root/cimv2`` ``Win32_LogicalDisk`` for the system drive ``C:``
  (DeviceID, DriveType 3 local disk, FileSystem, Size and FreeSpace in
  bytes: https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-logicaldisk).
- ``Msvm_ExternalEthernetPort`` per physical adapter, with
  ``Msvm_ExternalEthernetPortCapabilities.IOVSupport`` associated through
  ``Msvm_ElementCapabilities``.
- An external vSwitch's uplink is an ``Msvm_EthernetPortAllocationSettingData``
  component of the switch's settings whose HostResource names the external
  port, the shape Microsoft's switch-creation samples pass to DefineSystem.
  Hyper-V's fuller model (LAN endpoints, internal ports) is not emulated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from winstackers.cim.values import Reference
from winstackers.emulator.hyperv import model

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

HOST_RESERVE_MB = 2048
GIB = 1024 ** 3


def dmtf_datetime(moment: datetime) -> str:
    """*moment* as a CIM datetime, ``yyyymmddHHMMSS.mmmmmmsUUU`` (UTC offset
    in minutes: DSP0004 section 5.2.4)."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{moment:%Y%m%d%H%M%S}.{moment.microsecond:06d}{sign}{abs(minutes):03d}"
EXTERNAL_PORT = "Msvm_ExternalEthernetPort"


def populate(host: EmulatedHost) -> None:
    """Create the OS, computer system and physical NIC instances."""
    config, store = host.config, host.store
    build = config.os_version.rsplit(".", 1)[-1]
    store.add("Win32_OperatingSystem", {
        "Name": f"{config.os_caption}|C:\\Windows|\\Device\\Harddisk0\\Partition2",
        "Caption": config.os_caption, "Version": config.os_version, "BuildNumber": build,
        "CSName": config.name, "TotalVisibleMemorySize": config.memory_mb * 1024,
        "FreePhysicalMemory": (config.memory_mb - HOST_RESERVE_MB) * 1024,
        "LastBootUpTime": dmtf_datetime(datetime.now(UTC))})
    store.add("Win32_LogicalDisk", {
        "DeviceID": "C:", "DriveType": 3, "FileSystem": "NTFS", "VolumeName": "System",
        "Size": config.disk_gb * GIB, "FreeSpace": (config.disk_gb - config.disk_used_gb) * GIB})
    store.add("Win32_ComputerSystem", {
        "Name": config.name, "Domain": "WORKGROUP", "Manufacturer": "Winstackers",
        "Model": "Emulated Hyper-V host", "NumberOfLogicalProcessors": config.logical_processors,
        "NumberOfProcessors": 1, "TotalPhysicalMemory": config.memory_mb * 1024 * 1024})
    for nic in config.nics:
        port = store.add(EXTERNAL_PORT, {
            "CreationClassName": EXTERNAL_PORT, "DeviceID": f"Microsoft:{model.new_guid()}",
            "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": config.name,
            "ElementName": nic.name, "Name": nic.name, "PermanentAddress": nic.mac})
        caps = store.add("Msvm_ExternalEthernetPortCapabilities", {
            "InstanceID": f"Microsoft:Capabilities\\{model.new_guid()}",
            "IOVSupport": nic.iov and config.iov_support,
            "IOVSupportReasons": [] if nic.iov else ["The network adapter does not support "
                                                     "SR-IOV (emulated)."]})
        store.associate("Msvm_ElementCapabilities", ManagedElement=port, Capabilities=caps)


def external_port(host: EmulatedHost, name: str) -> Reference:
    """The external port of the physical adapter *name*."""
    for ref, record in host.store.instances(EXTERNAL_PORT):
        if record["ElementName"] == name:
            return ref
    raise LookupError(f"no physical adapter {name!r}")  # HostConfig checks uplinks


def bind_uplink(host: EmulatedHost, switch_settings: Reference, switch_guid: str,
                uplink: str) -> None:
    """Bind the physical adapter *uplink* to a switch (an external switch)."""
    port = external_port(host, uplink)
    alloc = host.store.add(model.EPASD, {
        "InstanceID": f"Microsoft:{switch_guid}\\{model.new_guid()}", "ElementName": uplink,
        "ResourceType": 33, "ResourceSubType": "Microsoft:Hyper-V:Ethernet Connection",
        "HostResource": [port.path]})
    host.store.associate("Msvm_VirtualSystemSettingDataComponent",
                         GroupComponent=switch_settings, PartComponent=alloc)
    host.store.update(port, {"IsBound": True})


def refresh_free_memory(host: EmulatedHost) -> None:
    """Recompute Win32_OperatingSystem.FreePhysicalMemory."""
    used = HOST_RESERVE_MB
    for vm, record in host.store.instances("Msvm_ComputerSystem"):
        if record.get("Caption") != "Virtual Machine" or record.get("EnabledState") in (
                model.OFF, model.SAVED):
            continue
        for device in model.devices_of(host.store, model.settings_of(host.store, vm),
                                       "Msvm_MemorySettingData"):
            used += host.store.get(device).get("VirtualQuantity") or 0
    free_kb = max(host.config.memory_mb - used, 0) * 1024
    for ref, _ in host.store.instances("Win32_OperatingSystem"):
        host.store.update(ref, {"FreePhysicalMemory": free_kb})
