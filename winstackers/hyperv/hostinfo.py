"""Facts about a Hyper-V host: operating system, size, vSwitches.

Read in a fixed number of queries whatever the host's size: the operating
system (``Win32_OperatingSystem``, ``Win32_ComputerSystem`` in
``root/cimv2``), the vSwitches and their settings, the switch-owned port
connections (an external switch's uplink is a connection whose
HostResource is an ``Msvm_ExternalEthernetPort``) and the physical
adapters' SR-IOV capability (``Msvm_ExternalEthernetPortCapabilities``
through ``Msvm_ElementCapabilities``).  Sources: the class pages under
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/ and
https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/.

A switch is ``external`` when a physical adapter is bound to it,
``internal`` when only the host's own adapter is, and ``private``
otherwise.  The emulator does not model internal adapters, so it reports
external and private switches only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from winstackers.cim.api import Session
from winstackers.cim.values import Instance, Reference

CIMV2 = "root/cimv2"
EXTERNAL, INTERNAL, PRIVATE = "external", "internal", "private"


@dataclass(frozen=True)
class SwitchInfo:
    """One vSwitch.

    :ivar iov_enabled: created with SR-IOV (fixed at creation).
    :ivar iov_capable: its uplink adapter supports SR-IOV.
    """

    name: str
    id: str
    type: str
    uplink: str | None
    iov_enabled: bool
    iov_capable: bool
    bandwidth_mode: int


@dataclass(frozen=True)
class HostInfo:
    """One Hyper-V host."""

    name: str
    os_caption: str
    os_version: str
    os_build: str
    logical_processors: int
    memory_total_mb: int
    memory_free_mb: int
    iov_supported: bool
    switches: tuple[SwitchInfo, ...]

    def switch(self, name: str) -> SwitchInfo | None:
        """The switch called *name*, if the host has one."""
        return next((s for s in self.switches if s.name == name), None)


def read_host_info(session: Session) -> HostInfo:
    """Read the host's facts (9 queries).

    :raises CimError: as the session's queries do.
    """
    os_ = session.query("SELECT * FROM Win32_OperatingSystem", CIMV2)[0]
    computer = session.query("SELECT * FROM Win32_ComputerSystem", CIMV2)[0]
    caps = session.query("SELECT * FROM Msvm_VirtualEthernetSwitchManagementCapabilities")
    return HostInfo(
        name=computer["Name"], os_caption=os_["Caption"], os_version=os_["Version"],
        os_build=os_["BuildNumber"],
        logical_processors=int(computer["NumberOfLogicalProcessors"]),
        memory_total_mb=int(os_["TotalVisibleMemorySize"]) // 1024,
        memory_free_mb=int(os_["FreePhysicalMemory"]) // 1024,
        iov_supported=bool(caps and caps[0].get("IOVSupport")),
        switches=read_switches(session))


def read_switches(session: Session) -> tuple[SwitchInfo, ...]:
    """Every vSwitch of the host, with its type, uplink and SR-IOV (6 queries)."""
    switches = session.query("SELECT * FROM Msvm_VirtualEthernetSwitch")
    settings = {s["VirtualSystemIdentifier"]: s for s in session.query(
        "SELECT * FROM Msvm_VirtualEthernetSwitchSettingData")}
    uplinks = _uplinks(session)
    infos = []
    for switch in switches:
        guid = switch["Name"]
        setting = settings.get(guid)
        uplink, capable = uplinks.get(guid, (None, False))
        infos.append(SwitchInfo(
            name=switch["ElementName"], id=guid, type=EXTERNAL if uplink else PRIVATE,
            uplink=uplink, iov_enabled=bool(setting and setting.get("IOVPreferred")),
            iov_capable=capable,
            bandwidth_mode=int((setting.get("BandwidthReservationMode") or 0) if setting else 0)))
    return tuple(sorted(infos, key=lambda s: s.name))


def _uplinks(session: Session) -> dict[str, tuple[str, bool]]:
    """Switch GUID -> (uplink adapter name, its SR-IOV support)."""
    ports = {p.path: p for p in session.query("SELECT * FROM Msvm_ExternalEthernetPort")}
    capable = _iov_capable(session)
    found: dict[str, tuple[str, bool]] = {}
    for alloc in session.query("SELECT * FROM Msvm_EthernetPortAllocationSettingData"):
        for path in alloc.get("HostResource") or []:
            port = ports.get(Reference.parse(path, session.namespace))
            if port is not None:
                owner = str(alloc["InstanceID"]).split(":", 1)[-1].split("\\", 1)[0]
                found[owner] = (port["ElementName"], capable.get(port.path, False))
    return found


def _iov_capable(session: Session) -> dict[Reference | None, bool]:
    links = session.query("SELECT * FROM Msvm_ElementCapabilities")
    caps: dict[Reference | None, Instance] = {c.path: c for c in session.query(
        "SELECT * FROM Msvm_ExternalEthernetPortCapabilities")}
    return {link["ManagedElement"]: bool(caps[link["Capabilities"]].get("IOVSupport"))
            for link in links if link["Capabilities"] in caps}


@dataclass(frozen=True)
class DiskSpace:
    """A drive of the host (``Win32_LogicalDisk``), sizes in bytes."""

    drive: str
    size: int
    free: int

    @property
    def used(self) -> int:
        """Bytes in use."""
        return self.size - self.free


def read_disk_space(session: Session, drive: str = "C:") -> DiskSpace:
    """Size and free space of *drive* (one query).

    :raises LookupError: naming the drive when the host has none by that name.
    """
    letter = drive.rstrip("\\").upper()
    if len(letter) != 2 or not letter[0].isalpha() or letter[1] != ":":
        raise ValueError(f"drive {drive!r}: expected a drive letter such as 'C:'")
    found = session.query(f"SELECT * FROM Win32_LogicalDisk WHERE DeviceID = '{letter}'",
                          CIMV2)
    if not found:
        raise LookupError(f"the host has no drive {letter}")
    return DiskSpace(letter, int(found[0].get("Size") or 0), int(found[0].get("FreeSpace") or 0))


def read_boot_time(session: Session) -> datetime:
    """When the host's operating system last started (one query), aware UTC."""
    os_ = session.query("SELECT * FROM Win32_OperatingSystem", CIMV2)[0]
    return parse_cim_datetime(str(os_["LastBootUpTime"]))


def parse_cim_datetime(text: str) -> datetime:
    """A CIM timestamp ``yyyymmddHHMMSS.mmmmmmsUUU`` (DSP0004 5.2.4: the
    last four characters are the sign and the UTC offset in minutes).

    :raises ValueError: naming the text when it is not one.
    """
    match = re.fullmatch(r"(\d{14})\.(\d{6})([+-])(\d{3})", text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a CIM datetime (yyyymmddHHMMSS.mmmmmmsUUU)")
    stamp, micro, sign, minutes = match.groups()
    offset = timedelta(minutes=int(minutes)) * (1 if sign == "+" else -1)
    local = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(
        microsecond=int(micro), tzinfo=timezone(offset))
    return local.astimezone(UTC)
