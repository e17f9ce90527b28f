"""Host calls shared by the VM and vNIC modules: lookups and writes.

:class:`HostCalls` finds the management service and the ``...\\Default``
settings once per session (Hyper-V code clones those before adding a
device), finds VMs by name or id, and invokes methods, turning any
host refusal into :class:`~winstackers.hyperv.errors.OperationFailed` that
says what was being done.

A VM is found through its settings (``Msvm_VirtualSystemSettingData``)
whose VirtualSystemType is ``Microsoft:Hyper-V:System:Realized``: snapshots
and planned VMs share the name but have other types
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-virtualsystemsettingdata).
Hyper-V allows several VMs with one name; a lookup by name that finds more
than one is an error, not a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from winstackers.cim import call
from winstackers.cim.api import Session
from winstackers.cim.errors import CimError
from winstackers.cim.values import Instance, Reference
from winstackers.hyperv.errors import OperationFailed, VMNotFound

VSMS = "Msvm_VirtualSystemManagementService"
VSSD = "Msvm_VirtualSystemSettingData"
COMPUTER_SYSTEM = "Msvm_ComputerSystem"
REALIZED = "Microsoft:Hyper-V:System:Realized"
DEFAULT_JOB_TIMEOUT = 120.0
NIC = "Msvm_SyntheticEthernetPortSettingData"


def wql_string(value: str) -> str:
    """*value* as a WQL string literal (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def is_template(setting: Instance) -> bool:
    """Whether *setting* is a ``...\\Default`` template, not a real device."""
    return str(setting.get("InstanceID") or "").endswith("\\Default")


def adapters_named(session: Session, name: str) -> list[Instance]:
    """The network adapters (not the ``...\\Default`` template) named *name*.

    :raises OperationFailed: when several adapters have that name.
    """
    found = [nic for nic in session.query(
        f"SELECT * FROM {NIC} WHERE ElementName = {wql_string(name)}") if not is_template(nic)]
    if len(found) > 1:
        raise OperationFailed(operation=f"finding network adapter {name}",
                              cause=f"{len(found)} network adapters have that name")
    return found


def path_of(instance: Instance) -> Reference:
    """The reference an instance was read from (every read one has it).

    :raises OperationFailed: when it has none.
    """
    if instance.path is None:
        raise OperationFailed(operation=f"reading {instance.class_name}",
                              cause="the host returned an instance without its path")
    return instance.path


def vm_guid(setting: Instance) -> str:
    """The VM GUID in a Hyper-V InstanceID (``Microsoft:<GUID>\\...``)."""
    head = str(setting.get("InstanceID") or "").split("\\", 1)[0]
    return head.split(":", 1)[-1]


class HostCalls:
    """Lookups and writes on one host, with the fixed objects cached."""

    def __init__(self, session: Session, job_timeout: float = DEFAULT_JOB_TIMEOUT) -> None:
        self.session = session
        self.job_timeout = job_timeout
        self._service: Reference | None = None
        self._defaults: dict[str, Instance] = {}

    @property
    def host(self) -> str:
        """The host's name, for error messages."""
        return self.session.host

    # -- fixed objects --------------------------------------------------------
    def service(self) -> Reference:
        """The host's Msvm_VirtualSystemManagementService (read once).

        :raises OperationFailed: when the host has none.
        """
        if self._service is None:
            found = self.session.query(f"SELECT * FROM {VSMS}")
            if not found:
                raise OperationFailed(operation=f"finding {VSMS}", cause="the host has none")
            self._service = path_of(found[0])
        return self._service

    def default(self, class_name: str) -> Instance:
        """The ``...\\Default`` setting of *class_name*, to clone.

        :raises OperationFailed: when the host has none.
        """
        if class_name not in self._defaults:
            found = self.session.query(
                f"SELECT * FROM {class_name} WHERE InstanceID LIKE '%\\\\Default'")
            if not found:
                raise OperationFailed(operation=f"reading the default {class_name}",
                                      cause="the host has none")
            self._defaults[class_name] = found[0]
        return self._defaults[class_name]

    # -- VMs --------------------------------------------------------------------
    def vm_settings(self, name: str) -> Instance:
        """The settings of the VM named *name*.

        :raises VMNotFound: naming it.
        :raises OperationFailed: when several VMs have that name.
        """
        return self._one(f"ElementName = {wql_string(name)}", name)

    def vm_settings_by_id(self, vm_id: str) -> Instance:
        """The settings of the VM whose id (GUID) is *vm_id*.

        :raises VMNotFound: naming it.
        """
        guid = vm_id.strip("{}").upper()
        return self._one(f"VirtualSystemIdentifier = {wql_string(guid)}", vm_id)

    def _one(self, condition: str, what: str) -> Instance:
        found = self.session.query(f"SELECT * FROM {VSSD} WHERE VirtualSystemType = "
                                   f"{wql_string(REALIZED)} AND {condition}")
        if not found:
            raise VMNotFound(vm=what, host=self.host)
        if len(found) > 1:
            raise OperationFailed(operation=f"finding VM {what}",
                                  cause=f"{len(found)} virtual machines match")
        return found[0]

    def vm_of(self, settings: Instance) -> Instance:
        """The Msvm_ComputerSystem that *settings* define.

        :raises VMNotFound: when it vanished meanwhile.
        """
        found = self.session.associators(path_of(settings), assoc_class="Msvm_SettingsDefineState",
                                         result_class=COMPUTER_SYSTEM)
        if not found:
            raise VMNotFound(vm=settings.get("ElementName"), host=self.host)
        return found[0]

    def devices(self, settings: Instance) -> list[Instance]:
        """The device settings (RASDs) of a VM, in one call.

        :raises OperationFailed: when *settings* was not read from the host.
        """
        return self.session.associators(
            path_of(settings), assoc_class="Msvm_VirtualSystemSettingDataComponent",
            role="GroupComponent")

    # -- methods ----------------------------------------------------------------
    def invoke(self, operation: str, method: str, target: Reference | None = None,
               **params: Any) -> Mapping[str, Any]:
        """Invoke *method* (on the management service unless *target*) and
        wait for its job.

        :raises OperationFailed: naming *operation*, for any host refusal or
            failed job; Hyper-V's code is kept and the CIM error chained.
        """
        try:
            return call(self.session, target or self.service(), method, params,
                        timeout=self.job_timeout)
        except CimError as exc:
            raise OperationFailed(operation=operation, cause=str(exc), code=exc.code) from exc
