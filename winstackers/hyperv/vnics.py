"""Network adapters (vNICs) of VMs: add, remove, find, list and discover.

A vNIC is a ``Msvm_SyntheticEthernetPortSettingData``
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-syntheticethernetportsettingdata):
its ElementName is the name Winstackers gives it (the caller's port id),
Address the MAC and StaticMacAddress whether the MAC was given or the host
generates one.  The MAC's format is not documented; Hyper-V reports 12 hex
digits and os-win wrote them so (without separators), and so does
Winstackers (:func:`normalise_mac`).  Adapters are cloned from the host's
``...\\Default`` setting and added with one ``AddResourceSettings``,
removed with one ``RemoveResourceSettings`` (which also removes the
adapter's switch connection).

Adapters can be added to and removed from a running VM only when it is
generation 2 (Windows Server 2016 and later:
https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/what-s-new-in-hyper-v-on-windows);
Microsoft says nothing of generation 1, which Winstackers treats as
off-only.  Both are checked before any write
(:class:`~winstackers.hyperv.errors.InvalidDesiredState`).

Adding is idempotent: an adapter of that name already on that VM (with
the MAC asked for, if one was) is returned without a write.

:class:`VNicWatcher` tells which adapters appeared or disappeared since it
was last asked, with one query of four properties per poll.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field

from winstackers.cim.api import Session
from winstackers.cim.values import Instance, Reference
from winstackers.cim.watch import InstanceWatcher
from winstackers.hyperv.errors import InvalidDesiredState, VNicNotFound
from winstackers.hyperv.hostcalls import (
    DEFAULT_JOB_TIMEOUT,
    NIC,
    HostCalls,
    adapters_named,
    is_template,
    path_of,
    vm_guid,
)
from winstackers.hyperv.vmsettings import generation
from winstackers.hyperv.vmstate import PowerState

_HEX12 = re.compile(r"^[0-9A-F]{12}$")


def normalise_mac(mac: str) -> str:
    """*mac* as Hyper-V keeps it: 12 upper-case hex digits, separators
    (``:``, ``-``, ``.``) removed.

    :raises InvalidDesiredState: (field ``mac``) when it is not a unicast
        MAC address.
    """
    text = re.sub(r"[-:.]", "", str(mac)).upper()
    if not _HEX12.match(text):
        raise InvalidDesiredState(field="mac", detail=f"{mac!r}: a MAC address has 12 hex digits")
    if text == "0" * 12 or int(text[:2], 16) & 1:
        raise InvalidDesiredState(field="mac", detail=f"{mac!r}: not a unicast MAC address")
    return text


@dataclass(frozen=True)
class VNicInfo:
    """A network adapter as the host has it.

    ``mac`` is 12 upper-case hex digits (empty until the host assigns a
    generated one); ``vm_id`` the Hyper-V id of its VM.
    """

    name: str
    vm_id: str
    mac: str
    static_mac: bool
    instance_id: str

    @classmethod
    def from_setting(cls, nic: Instance) -> VNicInfo:
        """The info of one Msvm_SyntheticEthernetPortSettingData."""
        return cls(name=str(nic.get("ElementName") or ""), vm_id=vm_guid(nic),
                   mac=str(nic.get("Address") or "").upper(),
                   static_mac=bool(nic.get("StaticMacAddress")),
                   instance_id=str(nic.get("InstanceID")))


class VNics:
    """The network adapters of one host's VMs."""

    def __init__(self, session: Session, *, job_timeout: float = DEFAULT_JOB_TIMEOUT) -> None:
        self.calls = HostCalls(session, job_timeout)
        self.session = session

    # -- reading ------------------------------------------------------------------
    def _setting(self, name: str) -> Instance:
        found = adapters_named(self.session, name)
        if not found:
            raise VNicNotFound(nic=name, host=self.calls.host)
        return found[0]

    def get(self, name: str) -> VNicInfo:
        """The adapter named *name*.

        :raises VNicNotFound: naming it.
        :raises OperationFailed: when several adapters have that name.
        """
        return VNicInfo.from_setting(self._setting(name))

    def list_all(self, vm_name: str | None = None) -> list[VNicInfo]:
        """The adapters of the VM named *vm_name*, or of every VM of the host
        (one query), sorted by name.

        :raises VMNotFound: naming the VM.
        """
        if vm_name is None:
            found = self.session.query(f"SELECT * FROM {NIC}")
        else:
            settings = self.calls.vm_settings(vm_name)
            found = self.session.associators(
                path_of(settings), assoc_class="Msvm_VirtualSystemSettingDataComponent",
                result_class=NIC)
        nics = [VNicInfo.from_setting(nic) for nic in found if not is_template(nic)]
        return sorted(nics, key=lambda nic: (nic.name, nic.instance_id))

    # -- writing --------------------------------------------------------------------
    def add(self, vm_name: str, name: str, mac: str | None = None) -> VNicInfo:
        """Give the VM named *vm_name* an adapter named *name*, with the
        static *mac* or a generated one; no write when it has it already.

        :raises VMNotFound: naming the VM.
        :raises InvalidDesiredState: a bad MAC or name; the name taken by
            another VM's adapter or with another MAC; a VM that is running
            generation 1, or neither off nor running. All before any write.
        :raises OperationFailed: when the host refuses.
        """
        static = None if mac is None else normalise_mac(mac)
        if not name:
            raise InvalidDesiredState(field="name", detail="a network adapter needs a name")
        settings = self.calls.vm_settings(vm_name)
        try:
            return self._already_there(self._setting(name), settings, static)
        except VNicNotFound:
            pass
        self._check_hot_plug(settings, "add", name)
        nic = self.calls.default(NIC).replace(
            ElementName=name, StaticMacAddress=static is not None, Address=static,
            VirtualSystemIdentifiers=[f"{{{str(uuid.uuid4()).upper()}}}"])
        self.calls.invoke(f"adding network adapter {name} to VM {vm_name}", "AddResourceSettings",
                          AffectedConfiguration=path_of(settings), ResourceSettings=[nic])
        return self.get(name)

    def _already_there(self, nic: Instance, settings: Instance, static: str | None) -> VNicInfo:
        info = VNicInfo.from_setting(nic)
        if info.vm_id.upper() != str(settings.get("VirtualSystemIdentifier")).upper():
            raise InvalidDesiredState(field="name", detail=(
                f"{info.name!r}: a network adapter of that name belongs to VM {info.vm_id}"))
        if static is not None and (not info.static_mac or info.mac != static):
            raise InvalidDesiredState(field="mac", detail=(
                f"{static}: network adapter {info.name!r} has MAC {info.mac or 'generated'}; "
                "remove it to change its MAC"))
        return info

    def _check_hot_plug(self, settings: Instance, action: str, name: str) -> None:
        vm = self.calls.vm_of(settings)
        state = PowerState.of(vm.get("EnabledState"))
        if state == PowerState.OFF or (state == PowerState.RUNNING and generation(settings) == 2):
            return
        raise InvalidDesiredState(field="VM state", detail=(
            f"cannot {action} network adapter {name!r} on VM {settings.get('ElementName')!r}, "
            f"generation {generation(settings)}, {state.name.lower()}: only a VM that is off, "
            "or a running generation 2 VM, allows it"))

    def remove(self, name: str) -> None:
        """Remove the adapter named *name* (and its switch connection).

        :raises VNicNotFound: naming it.
        :raises InvalidDesiredState: when its VM is running generation 1, or
            neither off nor running; before any write.
        :raises OperationFailed: when the host refuses.
        """
        nic = self._setting(name)
        settings = self.calls.vm_settings_by_id(vm_guid(nic))
        self._check_hot_plug(settings, "remove", name)
        self.calls.invoke(f"removing network adapter {name}", "RemoveResourceSettings",
                          ResourceSettings=[path_of(nic)])


@dataclass(frozen=True)
class VNicChanges:
    """Adapters that appeared and disappeared between two polls."""

    appeared: list[VNicInfo] = field(default_factory=list)
    disappeared: list[VNicInfo] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.appeared or self.disappeared)


class VNicWatcher:
    """Reports the adapters that appeared or disappeared since the last
    :meth:`poll`, with one query of four properties per poll, so it can run
    every few seconds on a host with many adapters.  The first poll reports
    every adapter as appeared (a consumer that restarts learns them all).
    """

    PROPERTIES = ("InstanceID", "ElementName", "Address", "StaticMacAddress")

    def __init__(self, session: Session) -> None:
        self._watcher = InstanceWatcher(session, NIC, where="NOT InstanceID LIKE '%\\\\Default'",
                                        properties=self.PROPERTIES)
        self._known: dict[Reference, VNicInfo] = {}
        self._lock = threading.Lock()

    def poll(self) -> VNicChanges:
        """Query once and return what changed.

        :raises CimError: when the query fails; nothing is forgotten then,
            and the next poll reports the changes.
        """
        with self._lock:
            changes = self._watcher.poll()
            appeared = []
            for nic in changes.created:
                info = VNicInfo.from_setting(nic)
                self._known[path_of(nic)] = info
                appeared.append(info)
            gone = [self._known.pop(ref) for ref in changes.deleted if ref in self._known]
            return VNicChanges(appeared, gone)

    def reset(self) -> None:
        """Forget what was seen: the next poll reports every adapter again."""
        with self._lock:
            self._watcher.reset()
            self._known.clear()
