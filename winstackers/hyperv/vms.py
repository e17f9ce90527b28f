"""Virtual machines as desired state: define, change, power, destroy, read.

:meth:`VMs.ensure` is the one way to define a VM: given a
:class:`~winstackers.hyperv.vmstate.VMSpec` it creates the VM when no VM
has that name (one ``DefineSystem`` carrying the memory and processor
settings), and otherwise changes only what differs: one
``ModifySystemSettings`` for notes and secure boot, one
``ModifyResourceSettings`` for memory and processors.  Ensuring the same
spec again makes no write.  A VM is never duplicated by Winstackers,
although Hyper-V itself allows two VMs with one name
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/definesystem-msvm-virtualsystemmanagementservice);
finding two is an error.

Reads: :meth:`VMs.get` makes three host reads; :meth:`VMs.list_all` four
queries whatever the number of VMs; :meth:`VMs.summary` one
``GetSummaryInformation`` call (plus one query when only some VMs are
asked for).  Power changes follow :mod:`winstackers.hyperv.vmpower`.

Secure boot templates are found by name, as os-win did: the
``Msvm_VirtualSystemSettingData`` named after the template carries its
SecureBootTemplateId
(https://github.com/openstack/os-win/blob/master/os_win/utils/compute/vmutils10.py).
Microsoft documents the template names, not how WMI exposes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from winstackers.cim import embedded
from winstackers.cim.api import Session
from winstackers.cim.values import Instance
from winstackers.hyperv import vmsettings as vs
from winstackers.hyperv.errors import InvalidDesiredState, OperationFailed, VMNotFound
from winstackers.hyperv.hostcalls import (
    COMPUTER_SYSTEM,
    DEFAULT_JOB_TIMEOUT,
    REALIZED,
    VSSD,
    HostCalls,
    path_of,
    wql_string,
)
from winstackers.hyperv.vmpower import GuestShutdown, request_for
from winstackers.hyperv.vmstate import (
    SECURE_BOOT_TEMPLATES,
    PowerState,
    VMInfo,
    VMSpec,
    VMSummary,
    check_secure_boot,
)

DEFAULT_SHUTDOWN_REASON = "Shutdown requested by Winstackers"


class VMs:
    """The virtual machines of one host."""

    def __init__(self, session: Session, *, job_timeout: float = DEFAULT_JOB_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.calls = HostCalls(session, job_timeout)
        self.session = session
        self._shutdown = GuestShutdown(self.calls, clock, sleep)
        self._templates: dict[str, str] | None = None

    # -- reading ------------------------------------------------------------------
    def get(self, name: str) -> VMInfo:
        """The VM named *name*.

        :raises VMNotFound: naming it.
        :raises OperationFailed: when several VMs have that name.
        """
        return self._info(self.calls.vm_settings(name))

    def get_by_id(self, vm_id: str) -> VMInfo:
        """The VM whose Hyper-V id (a GUID) is *vm_id*.

        :raises VMNotFound: naming it.
        """
        return self._info(self.calls.vm_settings_by_id(vm_id))

    def get_by_instance_id(self, instance_id: str) -> VMInfo:
        """The VM whose Notes carry *instance_id* (see :class:`VMSpec`).

        :raises VMNotFound: naming the instance id.
        """
        for vm in self.list_all():
            if vm.instance_id == instance_id:
                return vm
        raise VMNotFound(vm=f"with instance id {instance_id}", host=self.calls.host)

    def _info(self, settings: Instance) -> VMInfo:
        vm = self.calls.vm_of(settings)
        return vs.info_from(settings, vm, self.calls.devices(settings),
                            self._template_names(settings))

    def list_all(self) -> list[VMInfo]:
        """Every VM of the host, sorted by name, in four queries."""
        settings = self.session.query(f"SELECT * FROM {VSSD} WHERE VirtualSystemType = "
                                      f"{wql_string(REALIZED)}")
        systems = {s.get("Name"): s for s in self.session.query(f"SELECT * FROM {COMPUTER_SYSTEM}")}
        devices: dict[str, list[Instance]] = {}
        for class_name in (vs.MEMORY, vs.PROCESSOR):
            for rasd in self.session.query(f"SELECT * FROM {class_name}"):
                devices.setdefault(str(rasd.get("InstanceID")).split("\\", 1)[0], []).append(rasd)
        found = [vs.info_from(s, systems[s.get("VirtualSystemIdentifier")],
                              devices.get(s.get("InstanceID"), []), self._template_names(s))
                 for s in settings if s.get("VirtualSystemIdentifier") in systems]
        return sorted(found, key=lambda vm: (vm.name, vm.vm_id))

    # -- secure boot templates ------------------------------------------------------
    def _template_map(self) -> dict[str, str]:
        """Template name -> SecureBootTemplateId (read once)."""
        if self._templates is None:
            names = " OR ".join(f"ElementName = {wql_string(n)}" for n in SECURE_BOOT_TEMPLATES)
            found = self.session.query(f"SELECT * FROM {VSSD} WHERE {names}")
            self._templates = {str(t["ElementName"]): str(t["SecureBootTemplateId"])
                               for t in found if t.get("VirtualSystemType") != REALIZED
                               and t.get("SecureBootTemplateId")}
        return self._templates

    def _template_names(self, settings: Instance) -> dict[str, str]:
        if not settings.get("SecureBootEnabled"):
            return {}
        return {tid.strip("{}").upper(): name for name, tid in self._template_map().items()}

    def _template_id(self, template: str | None) -> str | None:
        if template is None:
            return None
        try:
            return self._template_map()[template]
        except KeyError:
            raise OperationFailed(operation=f"finding secure boot template {template}",
                                  cause="the host has no template by that name") from None

    # -- defining -------------------------------------------------------------------
    def ensure(self, spec: VMSpec) -> VMInfo:
        """Make the VM named ``spec.name`` look like *spec*: create it, or
        change only what differs (no write when nothing does).

        :raises InvalidDesiredState: when the VM exists with another
            generation (Hyper-V cannot change it), before any write.
        :raises OperationFailed: when the host refuses (e.g. more processors
            than it has, or a change it does not allow while the VM runs).
        """
        try:
            settings = self.calls.vm_settings(spec.name)
        except VMNotFound:
            return self._define(spec)
        if vs.generation(settings) != spec.generation:
            raise InvalidDesiredState(field="generation", detail=(
                f"VM {spec.name!r} is generation {vs.generation(settings)}; a VM's "
                "generation cannot change"))
        if self._modify(settings, spec):
            return self.get(spec.name)
        return self._info(settings)

    def _define(self, spec: VMSpec) -> VMInfo:
        system = self.session.new_instance(
            VSSD, vs.system_values(spec, self._template_id(spec.secure_boot)))
        resources = [self.calls.default(vs.MEMORY).replace(**vs.memory_values(spec)),
                     self.calls.default(vs.PROCESSOR).replace(**vs.processor_values(spec))]
        self.calls.invoke(f"defining VM {spec.name}", "DefineSystem", SystemSettings=system,
                         ResourceSettings=resources)
        return self.get(spec.name)

    def _modify(self, settings: Instance, spec: VMSpec) -> int:
        """Write what differs from *spec*; returns the writes made."""
        writes = 0
        template = self._wanted_template(settings, spec.secure_boot)
        if system := vs.changes(settings, vs.system_values(spec, template)):
            self.calls.invoke(f"changing VM {spec.name}", "ModifySystemSettings",
                              SystemSettings=settings.replace(**system))
            writes += 1
        devices = self.calls.devices(settings)
        changed = [rasd.replace(**diff) for rasd, diff in self._device_changes(devices, spec)
                   if diff]
        if changed:
            self.calls.invoke(f"changing memory and processors of VM {spec.name}",
                              "ModifyResourceSettings", ResourceSettings=changed)
            writes += 1
        return writes

    def _wanted_template(self, settings: Instance, template: str | None) -> str | None:
        """The template id to write: the VM's own spelling when it is the
        same template, so an equal state makes no write."""
        if template is None:
            return None
        wanted = self._template_id(template)
        current = settings.get("SecureBootTemplateId")
        return str(current) if vs.same_template(current, wanted) else wanted

    def _device_changes(self, devices: list[Instance],
                        spec: VMSpec) -> list[tuple[Instance, dict[str, Any]]]:
        pairs = []
        for class_name, wanted in ((vs.MEMORY, vs.memory_values(spec)),
                                   (vs.PROCESSOR, vs.processor_values(spec))):
            rasd = vs.device(devices, class_name)
            if rasd is None:
                raise OperationFailed(operation=f"reading VM {spec.name}",
                                      cause=f"the VM has no {class_name}")
            pairs.append((rasd, vs.changes(rasd, wanted)))
        return pairs

    def set_secure_boot(self, name: str, template: str | None) -> None:
        """Turn secure boot off (*template* None) or on with a template
        (``MicrosoftWindows`` or ``MicrosoftUEFICertificateAuthority``); no
        write when it is already so.  Hyper-V changes secure boot only while
        the VM is off.

        :raises VMNotFound: naming the VM.
        :raises InvalidDesiredState: an unknown template, or secure boot on a
            generation 1 VM, before any write.
        :raises OperationFailed: when the host refuses (the VM is not off).
        """
        settings = self.calls.vm_settings(name)
        check_secure_boot(template, vs.generation(settings))
        wanted = vs.secure_boot_values(self._wanted_template(settings, template))
        if changes := vs.changes(settings, wanted):
            self.calls.invoke(f"setting secure boot of VM {name}", "ModifySystemSettings",
                              SystemSettings=settings.replace(**changes))

    # -- power ----------------------------------------------------------------------
    def start(self, name: str) -> None:
        """Start (or resume) the VM; no write when it runs.

        :raises VMNotFound: naming it.
        :raises InvalidDesiredState: from a state Hyper-V cannot start from.
        :raises OperationFailed: when the host refuses or the job fails.
        """
        self._power(name, "start")

    def turn_off(self, name: str) -> None:
        """Turn the VM off at once (no guest shutdown); no write when off.

        :raises VMNotFound: naming it.
        :raises InvalidDesiredState: while it is starting or stopping.
        :raises OperationFailed: when the host refuses or the job fails.
        """
        self._power(name, "turn off")

    def save(self, name: str) -> None:
        """Save the VM's state and stop it; no write when saved.

        :raises VMNotFound: naming it.
        :raises InvalidDesiredState: when it is not running or paused.
        :raises OperationFailed: when the host refuses or the job fails.
        """
        self._power(name, "save")

    def pause(self, name: str) -> None:
        """Pause the running VM; no write when paused.

        :raises VMNotFound: naming it.
        :raises InvalidDesiredState: when it is not running.
        :raises OperationFailed: when the host refuses or the job fails.
        """
        self._power(name, "pause")

    def resume(self, name: str) -> None:
        """Resume a paused or saved VM; no write when it runs.

        :raises VMNotFound: naming it.
        :raises InvalidDesiredState: when it is off (start it instead).
        :raises OperationFailed: when the host refuses or the job fails.
        """
        self._power(name, "resume")

    def reboot(self, name: str) -> None:
        """Reset the running VM (a hard reboot).

        :raises VMNotFound: naming it.
        :raises InvalidDesiredState: when it is not running.
        :raises OperationFailed: when the host refuses or the job fails.
        """
        self._power(name, "reboot")

    def _power(self, name: str, action: str, vm: Instance | None = None) -> None:
        vm = vm or self.calls.vm_of(self.calls.vm_settings(name))
        requested = request_for(action, name, PowerState.of(vm.get("EnabledState")))
        if requested is not None:
            self.calls.invoke(f"{action} VM {name}", "RequestStateChange", path_of(vm),
                             RequestedState=requested)

    def shutdown(self, name: str, *, timeout: float = 60.0, force: bool = True,
                 reason: str = DEFAULT_SHUTDOWN_REASON) -> bool:
        """Shut the VM down through its guest, waiting at most *timeout*
        seconds, then turn it off.  *force* lets the guest close
        applications with unsaved data (a power-off loses them anyway).

        :returns: True when the VM went off by itself (or was off already),
            False when it had to be turned off (a paused or saved VM always
            is: its guest cannot act).
        :raises VMNotFound: naming it.
        :raises InvalidDesiredState: while it is starting or stopping.
        :raises OperationFailed: when the host refuses the power-off.
        """
        vm = self.calls.vm_of(self.calls.vm_settings(name))
        state = PowerState.of(vm.get("EnabledState"))
        if state == PowerState.OFF:
            return True
        if state == PowerState.RUNNING and self._shutdown.run(vm, timeout=timeout, force=force,
                                                             reason=reason):
            return True
        vm = self.session.get(path_of(vm))
        if PowerState.of(vm.get("EnabledState")) == PowerState.OFF:
            return True
        self._power(name, "turn off", vm)
        return False

    def destroy(self, name: str) -> None:
        """Delete the VM, turning it off first when it runs or is paused.

        :raises VMNotFound: naming it.
        :raises InvalidDesiredState: while it is starting or stopping.
        :raises OperationFailed: when the host refuses or a job fails.
        """
        vm = self.calls.vm_of(self.calls.vm_settings(name))
        if PowerState.of(vm.get("EnabledState")) not in (PowerState.OFF, PowerState.SAVED):
            self._power(name, "turn off", vm)
        self.calls.invoke(f"destroying VM {name}", "DestroySystem", AffectedSystem=path_of(vm))

    # -- summary ----------------------------------------------------------------------
    def summary(self, names: Iterable[str] | None = None) -> list[VMSummary]:
        """State, uptime, processors and memory of every VM (*names* None)
        or of the VMs named, in one GetSummaryInformation call
        (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/getsummaryinformation-msvm-virtualsystemmanagementservice).

        :raises VMNotFound: naming a VM that does not exist.
        :raises OperationFailed: when the host refuses the call.
        """
        wanted = None if names is None else list(names)
        if wanted == []:
            return []
        refs = None if wanted is None else [path_of(s) for s in self._settings_named(wanted)]
        out = self.calls.invoke("reading VM summaries", "GetSummaryInformation",
                               SettingData=refs, RequestedInformation=list(vs.SUMMARY_CODES))
        found = [vs.summary_from(_instance(item)) for item in out.get("SummaryInformation") or []]
        return sorted((s for s in found if s.vm_id), key=lambda s: (s.name, s.vm_id))

    def _settings_named(self, names: list[str]) -> list[Instance]:
        wanted = " OR ".join(f"ElementName = {wql_string(n)}" for n in names)
        found = self.session.query(f"SELECT * FROM {VSSD} WHERE VirtualSystemType = "
                                   f"{wql_string(REALIZED)} AND ({wanted})")
        missing = set(names) - {str(s.get("ElementName")) for s in found}
        if missing:
            raise VMNotFound(vm=", ".join(sorted(missing)), host=self.calls.host)
        return found


def _instance(item: Any) -> Instance:
    """A summary as an instance, whether the transport decoded it or not."""
    return item if isinstance(item, Instance) else embedded.from_text(str(item))

