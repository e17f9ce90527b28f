"""What an emulated host is made of: its name, size and vSwitches."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class NicSpec:
    """A physical network adapter of the host."""

    name: str
    mac: str
    iov: bool = False


@dataclass(frozen=True)
class SwitchSpec:
    """A vSwitch that exists when the host starts.

    :ivar iov: created with SR-IOV (IOVPreferred); Hyper-V fixes this at
        creation time.
    :ivar uplink: the physical adapter it is bound to (an external switch);
        None for a private switch.
    :ivar bandwidth_mode: its BandwidthReservationMode (0 Default, 1 Weight,
        2 Absolute, 3 None), also fixed at creation time.
    """

    name: str
    iov: bool = False
    uplink: str | None = None
    bandwidth_mode: int = 0


@dataclass(frozen=True)
class HostConfig:
    """The fixed facts of an emulated host."""

    name: str = "WIN-HV-EMU01"
    logical_processors: int = 16
    memory_mb: int = 65536
    #: Whether the host's NICs and firmware support SR-IOV at all.
    iov_support: bool = True
    nics: tuple[NicSpec, ...] = field(default_factory=lambda: (
        NicSpec("Ethernet 1", "00155D7F0001"), NicSpec("Ethernet 2", "00155D7F0002", iov=True)))
    switches: tuple[SwitchSpec, ...] = field(default_factory=lambda: (
        SwitchSpec("vSwitch-physnet1", uplink="Ethernet 1"),
        SwitchSpec("vSwitch-sriov", iov=True, uplink="Ethernet 2")))
    os_caption: str = "Microsoft Windows Server 2022 Datacenter"
    os_version: str = "10.0.20348"
    #: Hyper-V's default dynamic MAC range starts with 00-15-5D.
    mac_prefix: str = "00155D"
    #: The system drive (``C:``), where instances and images live: its size
    #: and the space used on it when the host starts.
    disk_gb: int = 2048
    disk_used_gb: int = 120
    #: A local directory holding the host's disk and ISO files as real
    #: files (see :mod:`.filesroot`); None keeps them in memory.
    files_root: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("HostConfig.name must not be empty")
        if self.logical_processors < 1 or self.memory_mb < 1:
            raise ValueError("HostConfig.logical_processors and memory_mb must be positive")
        if not 0 <= self.disk_used_gb <= self.disk_gb:
            raise ValueError("HostConfig.disk_used_gb must be between 0 and disk_gb")
        nics = {nic.name for nic in self.nics}
        for switch in self.switches:
            if switch.uplink is not None and switch.uplink not in nics:
                raise ValueError(f"HostConfig.switches: {switch.name!r} uplink "
                                 f"{switch.uplink!r} is not one of the host's nics")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for saving the host state."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostConfig:
        """The inverse of :meth:`to_dict`."""
        switches = tuple(SwitchSpec(**spec) for spec in data.get("switches", ()))
        nics = tuple(NicSpec(**spec) for spec in data.get("nics", ()))
        return cls(**{**data, "switches": switches, "nics": nics})
