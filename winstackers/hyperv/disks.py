"""Virtual hard disks, their place in VMs, ISO images and serial ports.

:class:`Images` creates, reads and resizes virtual hard disk files through
``Msvm_ImageManagementService``
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-imagemanagementservice):
``CreateVirtualHardDisk``, ``GetVirtualHardDiskSettingData``,
``ResizeVirtualHardDisk``, one call each (the service is looked up once).

:class:`VmStorage` attaches disks and ISOs to VMs, detaches them, lists
them and connects the COM ports to named pipes (see :mod:`.diskinfo` for
the settings and their sources).  The controller is IDE on generation 1
and SCSI on generation 2 unless asked (generation 2 has no IDE:
https://learn.microsoft.com/en-us/windows-server/virtualization/hyper-v/plan/should-i-create-a-generation-1-or-2-virtual-machine-in-hyper-v),
the slot the first free one.  SCSI disks can be added and removed while a
VM runs, IDE ones only while it is off (Microsoft's Virtual PC Guy blog,
https://docs.microsoft.com/en-us/archive/blogs/virtual_pc_guy/why-hyper-v-cannot-boot-off-of-scsi-disks-and-why-you-should-not-care);
that is checked before any write.

Host calls.  Attaching takes two writes, one ``AddResourceSettings`` for
the drive and one for the image: Hyper-V takes several settings in one
call, but the image's Parent is the drive's object path, which exists only
once the first call has made the drive.  A VM with no SCSI controller (or
none with a free slot) gets one first, a third write, while it is off;
Microsoft does not say whether DefineSystem gives a VM one.  Reads: the
VM's settings, its computer system and its devices (three), and the first
time (cached) the management service and the ``...\\Default`` drive and
image settings; plus one job poll per write.
Attaching what is attached already makes no write.  Detaching is one
``RemoveResourceSettings`` naming the image then its drive.  Listing is two
reads; connecting a COM port two reads and one ``ModifyResourceSettings``
(none when it is connected to that pipe already).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from winstackers.cim import embedded
from winstackers.cim.api import Session
from winstackers.cim.values import Instance, Reference
from winstackers.hyperv.diskinfo import (
    RASD,
    SASD,
    SERIAL,
    Controller,
    DiskFormat,
    DiskInfo,
    DiskType,
    ImageInfo,
    Layout,
    Media,
    SerialPortInfo,
    check_path,
    check_pipe,
    serial_port_info,
)
from winstackers.hyperv.errors import (
    DiskNotFound,
    ImageNotFound,
    InvalidDesiredState,
    OperationFailed,
)
from winstackers.hyperv.hostcalls import (
    DEFAULT_JOB_TIMEOUT,
    HostCalls,
    is_template,
    path_of,
    wql_string,
)
from winstackers.hyperv.vmsettings import generation
from winstackers.hyperv.vmstate import PowerState

IMAGE_SERVICE = "Msvm_ImageManagementService"
VHDSD = "Msvm_VirtualHardDiskSettingData"
FILE_NOT_FOUND = 32779
MAX_SCSI_CONTROLLERS = 4


class Images:
    """The virtual hard disk files of one host."""

    def __init__(self, session: Session, *, job_timeout: float = DEFAULT_JOB_TIMEOUT) -> None:
        self.calls = HostCalls(session, job_timeout)
        self.session = session
        self._service: Reference | None = None

    def _image_service(self) -> Reference:
        if self._service is None:
            found = self.session.query(f"SELECT * FROM {IMAGE_SERVICE}")
            if not found:
                raise OperationFailed(operation=f"finding {IMAGE_SERVICE}",
                                      cause="the host has none")
            self._service = path_of(found[0])
        return self._service

    def _invoke(self, operation: str, method: str, path: str, **params: Any) -> Mapping[str, Any]:
        try:
            return self.calls.invoke(operation, method, self._image_service(), **params)
        except OperationFailed as exc:
            if exc.code == FILE_NOT_FOUND:
                raise ImageNotFound(path=path, host=self.calls.host) from exc
            raise

    def create(self, path: str, size_bytes: int | None = None, *,
               format: DiskFormat = DiskFormat.VHDX, type: DiskType | None = None,
               parent: str | None = None) -> ImageInfo:
        """Create the file *path*: a dynamic disk by default, or fixed, or a
        differencing disk over *parent* (whose size it takes).

        :raises InvalidDesiredState: a path not fully qualified, a size for a
            differencing disk or none for another, a parent for another type;
            before any host call.
        :raises ImageNotFound: when *parent* does not exist.
        :raises OperationFailed: when the host refuses (the path exists, ...).
        """
        disk_type = type or (DiskType.DIFFERENCING if parent else DiskType.DYNAMIC)
        check_path(path)
        if disk_type is DiskType.DIFFERENCING:
            if parent is None or size_bytes is not None:
                raise InvalidDesiredState(field="parent", detail=(
                    "a differencing disk needs a parent and takes its size"))
            check_path(parent, "parent")
        elif parent is not None:
            raise InvalidDesiredState(field="parent", detail=f"a {disk_type.name.lower()} "
                                      "disk has no parent")
        elif not isinstance(size_bytes, int) or size_bytes <= 0:
            raise InvalidDesiredState(field="size_bytes", detail=f"{size_bytes!r}: a disk "
                                      "needs a positive size in bytes")
        settings = self.session.new_instance(VHDSD, {
            "Path": path, "Format": int(format), "Type": int(disk_type),
            "MaxInternalSize": size_bytes or 0, "ParentPath": parent or ""})
        self._invoke(f"creating virtual hard disk {path}", "CreateVirtualHardDisk",
                     parent or path, VirtualDiskSettingData=settings)
        return self.info(path)

    def info(self, path: str) -> ImageInfo:
        """What the host says of the virtual hard disk *path* (one call).

        :raises ImageNotFound: naming it.
        :raises OperationFailed: when the host refuses otherwise.
        """
        out = self._invoke(f"reading virtual hard disk {path}", "GetVirtualHardDiskSettingData",
                           path, Path=path)
        text = out.get("SettingData")
        if not isinstance(text, str):
            raise OperationFailed(operation=f"reading virtual hard disk {path}",
                                  cause="the host returned no SettingData")
        return ImageInfo.from_setting(embedded.from_text(text))

    def resize(self, path: str, size_bytes: int) -> ImageInfo:
        """Give *path* a new size as the guest sees it; the disk must not be
        in use by a running VM (ResizeVirtualHardDisk: "must be offline").

        :raises InvalidDesiredState: a size that is not positive.
        :raises ImageNotFound: naming it.
        :raises OperationFailed: when the host refuses (in use, too small,
            a type that cannot shrink or grow).
        """
        if not isinstance(size_bytes, int) or size_bytes <= 0:
            raise InvalidDesiredState(field="size_bytes", detail=f"{size_bytes!r}: not a "
                                      "positive size in bytes")
        self._invoke(f"resizing virtual hard disk {path} to {size_bytes} bytes",
                     "ResizeVirtualHardDisk", path, Path=path, MaxInternalSize=size_bytes)
        return self.info(path)


class VmStorage:
    """The disks, ISO images and COM ports of one host's VMs."""

    def __init__(self, session: Session, *, job_timeout: float = DEFAULT_JOB_TIMEOUT) -> None:
        self.calls = HostCalls(session, job_timeout)
        self.session = session
        self._defaults: dict[str, Instance] = {}

    def _default(self, class_name: str, subtype: str) -> Instance:
        if subtype not in self._defaults:
            found = [s for s in self.session.query(
                f"SELECT * FROM {class_name} WHERE ResourceSubType = {wql_string(subtype)} AND "
                "InstanceID LIKE '%\\\\Default'") if is_template(s)]
            if not found:
                raise OperationFailed(operation=f"reading the default {subtype}",
                                      cause="the host has none")
            self._defaults[subtype] = found[0]
        return self._defaults[subtype]

    def _layout(self, vm_name: str) -> tuple[Instance, Layout]:
        settings = self.calls.vm_settings(vm_name)
        return settings, Layout(vm_name, self.calls.devices(settings))

    # -- disks and ISOs -----------------------------------------------------------
    def list_all(self, vm_name: str) -> list[DiskInfo]:
        """The disks and ISOs attached to the VM named *vm_name* (two reads).

        :raises VMNotFound: naming the VM.
        """
        return self._layout(vm_name)[1].disks()

    def attach_disk(self, vm_name: str, path: str, *, controller: Controller | None = None,
                    controller_number: int | None = None, slot: int | None = None) -> DiskInfo:
        """Attach the virtual hard disk *path* to the VM named *vm_name*, on
        *controller* (IDE on generation 1, SCSI on 2 by default) and the
        first free slot matching *controller_number* and *slot*; no write
        when it is attached to that VM already.

        :raises VMNotFound: naming the VM.
        :raises InvalidDesiredState: IDE on generation 2, no free slot, a VM
            state that forbids the change, *path* attached as an ISO; before
            any write.
        :raises OperationFailed: when the host refuses (no such file, the
            disk attached to another VM, ...); nothing is left behind.
        """
        return self._attach(vm_name, check_path(path), Media.DISK, controller,
                            controller_number, slot)

    def attach_iso(self, vm_name: str, path: str, *, controller: Controller | None = None,
                   controller_number: int | None = None, slot: int | None = None) -> DiskInfo:
        """Attach the ISO image *path* in a new DVD drive of the VM (as
        :meth:`attach_disk`; a config drive, for instance).

        :raises VMNotFound: naming the VM.
        :raises InvalidDesiredState: as :meth:`attach_disk`.
        :raises OperationFailed: when the host refuses (no such ISO, ...).
        """
        return self._attach(vm_name, check_path(path), Media.ISO, controller,
                            controller_number, slot)

    def _attach(self, vm_name: str, path: str, media: Media, controller: Controller | None,
                number: int | None, slot: int | None) -> DiskInfo:
        settings, layout = self._layout(vm_name)
        found = layout.find(path)
        if found is not None:
            if found[2].media is not media:
                raise InvalidDesiredState(field="path", detail=(
                    f"{path!r} is attached to VM {vm_name!r} as {found[2].media.value}"))
            return found[2]
        gen = generation(settings)
        kind = controller or (Controller.IDE if gen == 1 else Controller.SCSI)
        if kind is Controller.IDE and gen == 2:
            raise InvalidDesiredState(field="controller", detail=(
                f"VM {vm_name!r} is generation 2, which has no IDE controller"))
        _check_place(kind, number, slot)
        state = PowerState.of(self.calls.vm_of(settings).get("EnabledState"))
        _check_hot_plug(vm_name, kind, state)
        place = layout.free_place(kind, number, slot)
        if place is None:
            place = self._new_controller(settings, layout, kind, number, slot, state)
        ctrl, cnumber, cslot = place
        drive = self._add(settings, f"adding a {media.value} drive to VM {vm_name}",
                          self._default(RASD, media.drive_subtype).replace(
                              Parent=path_of(ctrl).path, AddressOnParent=str(cslot)))
        image = self._default(SASD, media.image_subtype).replace(Parent=drive.path,
                                                                 HostResource=[path])
        try:
            self._add(settings, f"attaching {path} to VM {vm_name}", image)
        except OperationFailed as exc:
            try:
                self.calls.invoke(f"removing the new drive of VM {vm_name}",
                                  "RemoveResourceSettings", ResourceSettings=[drive])
            except OperationFailed as cleanup:
                exc.add_note(f"the new drive {drive.path} is left on the VM: {cleanup}")
            raise
        return DiskInfo(vm_name, path, media, kind, cnumber, cslot)

    def _add(self, settings: Instance, operation: str, rasd: Instance) -> Reference:
        out = self.calls.invoke(operation, "AddResourceSettings",
                                AffectedConfiguration=path_of(settings), ResourceSettings=[rasd])
        refs = out.get("ResultingResourceSettings") or []
        if not refs or not isinstance(refs[0], Reference):
            raise OperationFailed(operation=operation, cause="the host returned no setting")
        return refs[0]

    def _new_controller(self, settings: Instance, layout: Layout, kind: Controller,
                        number: int | None, slot: int | None,
                        state: PowerState) -> tuple[Instance, int, int]:
        vm_name = layout.vm_name
        count = layout.count(kind)
        if kind is Controller.IDE or count >= MAX_SCSI_CONTROLLERS or \
                number not in (None, count) or state is not PowerState.OFF:
            raise InvalidDesiredState(field="controller", detail=(
                f"VM {vm_name!r} has no free slot on its {kind.name} controllers"
                + ("" if number is None else f" (controller {number})")
                + ("" if slot is None else f" (slot {slot})")
                + (", and a SCSI controller can be added only while it is off"
                   if kind is Controller.SCSI and count < MAX_SCSI_CONTROLLERS else "")))
        ref = self._add(settings, f"adding a SCSI controller to VM {vm_name}",
                        self._default(RASD, kind.subtype))
        return Instance(RASD, {}, ref), count, slot or 0

    def detach_disk(self, vm_name: str, path: str) -> None:
        """Detach the disk or ISO *path* from the VM (its drive goes too).

        :raises VMNotFound: naming the VM.
        :raises DiskNotFound: when it is not attached to that VM.
        :raises InvalidDesiredState: when the VM state forbids it.
        :raises OperationFailed: when the host refuses.
        """
        settings, layout = self._layout(vm_name)
        found = layout.find(path)
        if found is None:
            raise DiskNotFound(path=path, vm=vm_name, host=self.calls.host)
        image, drive, info = found
        state = PowerState.of(self.calls.vm_of(settings).get("EnabledState"))
        _check_hot_plug(vm_name, info.controller, state)
        self.calls.invoke(f"detaching {path} from VM {vm_name}", "RemoveResourceSettings",
                          ResourceSettings=[path_of(image), path_of(drive)])

    # -- serial ports -------------------------------------------------------------
    def _ports(self, vm_name: str) -> dict[int, Instance]:
        settings = self.calls.vm_settings(vm_name)
        ports = [p for p in self.session.associators(
            path_of(settings), assoc_class="Msvm_VirtualSystemSettingDataComponent",
            result_class=SERIAL) if not is_template(p)]
        named = {int(str(p.get("ElementName"))[4:]): p for p in ports
                 if str(p.get("ElementName") or "").startswith("COM ")
                 and str(p.get("ElementName"))[4:].isdigit()}
        return named if len(named) == len(ports) else dict(enumerate(ports, start=1))

    def serial_ports(self, vm_name: str) -> list[SerialPortInfo]:
        """The VM's COM ports and their pipes (two reads).

        :raises VMNotFound: naming the VM.
        """
        return [serial_port_info(port, n) for n, port in sorted(self._ports(vm_name).items())]

    def set_serial_pipe(self, vm_name: str, port_number: int,
                        pipe_path: str | None) -> SerialPortInfo:
        """Connect COM *port_number* (1 or 2) to the named pipe *pipe_path*
        (``\\\\.\\pipe\\name``), or disconnect it with None; no write when it
        is so already.

        :raises VMNotFound: naming the VM.
        :raises InvalidDesiredState: a port number or pipe path that is not
            one; before any host call.
        :raises OperationFailed: when the host refuses.
        """
        check_pipe(pipe_path)
        if port_number not in (1, 2):
            raise InvalidDesiredState(field="port_number", detail=f"{port_number!r}: a VM has "
                                      "COM ports 1 and 2")
        port = self._ports(vm_name).get(port_number)
        if port is None:
            raise OperationFailed(operation=f"finding COM {port_number} of VM {vm_name}",
                                  cause="the VM has no such port")
        if serial_port_info(port, port_number).pipe == pipe_path:
            return serial_port_info(port, port_number)
        self.calls.invoke(f"connecting COM {port_number} of VM {vm_name} to {pipe_path}",
                          "ModifyResourceSettings", ResourceSettings=[
                              port.replace(Connection=[pipe_path] if pipe_path else [])])
        return SerialPortInfo(port_number, pipe_path)


def _check_place(kind: Controller, number: int | None, slot: int | None) -> None:
    controllers = 2 if kind is Controller.IDE else MAX_SCSI_CONTROLLERS
    if number is not None and not 0 <= number < controllers:
        raise InvalidDesiredState(field="controller_number", detail=(
            f"{number!r}: {kind.name} controllers are numbered 0-{controllers - 1}"))
    if slot is not None and not 0 <= slot < kind.slots:
        raise InvalidDesiredState(field="slot", detail=(
            f"{slot!r}: a {kind.name} controller has slots 0-{kind.slots - 1}"))


def _check_hot_plug(vm_name: str, kind: Controller, state: PowerState) -> None:
    if state is PowerState.OFF or (state is PowerState.RUNNING and kind is Controller.SCSI):
        return
    raise InvalidDesiredState(field="VM state", detail=(
        f"VM {vm_name!r} is {state.name.lower()}: {kind.name} disks change only while it is "
        + ("off or running" if kind is Controller.SCSI else "off")))
