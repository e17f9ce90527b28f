"""What an emulated host is made of: its name, size and vSwitches."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SwitchSpec:
    """A vSwitch that exists when the host starts.

    :ivar iov: created with SR-IOV (IOVPreferred); Hyper-V fixes this at
        creation time.
    """

    name: str
    iov: bool = False


@dataclass(frozen=True)
class HostConfig:
    """The fixed facts of an emulated host."""

    name: str = "WIN-HV-EMU01"
    logical_processors: int = 16
    memory_mb: int = 65536
    #: Whether the host's NICs and firmware support SR-IOV at all.
    iov_support: bool = True
    switches: tuple[SwitchSpec, ...] = field(default_factory=lambda: (
        SwitchSpec("vSwitch-physnet1"), SwitchSpec("vSwitch-sriov", iov=True)))
    #: Hyper-V's default dynamic MAC range starts with 00-15-5D.
    mac_prefix: str = "00155D"

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("HostConfig.name must not be empty")
        if self.logical_processors < 1 or self.memory_mb < 1:
            raise ValueError("HostConfig.logical_processors and memory_mb must be positive")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for saving the host state."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostConfig:
        """The inverse of :meth:`to_dict`."""
        switches = tuple(SwitchSpec(**spec) for spec in data.get("switches", ()))
        return cls(**{**data, "switches": switches})
