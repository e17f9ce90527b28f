"""Add/Modify/RemoveResourceSettings of controllers, drives, images and serial ports.

:mod:`.resources` hands these classes here (see
:mod:`winstackers.emulator.hyperv.storage` for how they hang together).
Rules, with sources (hyperv_v2 pages on Microsoft Learn unless noted):

- A drive's Parent must be an existing controller of the same VM and its
  AddressOnParent a free slot: 0-1 on IDE, 0-63 on SCSI ("Each SCSI
  controller supports up to 64 disks": the scalability page).  An image's
  Parent must be an existing drive of the same VM that holds that kind of
  image (a hard disk image in a disk drive, an ISO in a DVD drive) and has
  none yet.  Parents named in the same call do not count: a new setting's
  object path exists only once the call has made it, so a drive and its
  image take two calls.
- An image's HostResource must name one existing file of its kind: a
  ``.vhd``/``.vhdx`` disk for a hard disk image, an ISO for a DVD
  ("Only one host resource can be assigned to each device ... only the
  first element of this array can be set":
  msvm-storageallocationsettingdata).  HostResource can be changed with
  ModifyResourceSettings (same page); so can IOPSLimit and IOPSReservation
  (at most 1000000000, IOPSLimit >= IOPSReservation).
- A serial port's Connection can be changed with ModifyResourceSettings
  (msvm-resourceallocationsettingdata); it names a pipe as
  ``\\\\.\\pipe\\name`` or ``\\\\server\\pipe\\name``
  (https://learn.microsoft.com/en-us/powershell/module/hyper-v/set-vmcomport).
- Generation 2 has no IDE controller (the generation 1 or 2 page):
  adding one is refused with 1 (Not Supported).  Up to 4 SCSI controllers.
- SCSI supports hot add and remove of disks, IDE does not (Microsoft's
  Virtual PC Guy blog,
  https://docs.microsoft.com/en-us/archive/blogs/virtual_pc_guy/why-hyper-v-cannot-boot-off-of-scsi-disks-and-why-you-should-not-care);
  a generation 2 VM's DVD drive can be added while it runs (the generation
  1 or 2 page).  So drives and images on SCSI change while the VM is off
  or running, on IDE only while it is off; anything else is 5.

Where Microsoft is silent the emulator refuses (4 unless noted): adding or
removing a controller unless the VM is off (5); changing a serial port's
Connection or DebuggerMode unless the VM is off (5); adding or
removing IDE controllers or serial ports (a VM has exactly its two); a
drive or image without AddressOnParent or HostResource; a hard disk image
already attached anywhere, or that is the parent of a differencing disk
(ISOs may be shared); removing a controller or drive that still holds
something, unless that is removed earlier in the same call (the call is
applied in array order); changing any other property (the pages call them
read-only), except ElementName of drives and controllers.

Not emulated: physical (pass-through) disks, floppies, Fibre Channel,
VHD Sets, shared VHDX, storage QoS policies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from winstackers.cim.errors import NotSupported
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv import model, storage
from winstackers.emulator.hyperv.methods import INVALID_PARAMETER, INVALID_STATE, NOT_SUPPORTED
from winstackers.emulator.hyperv.providers.common import owner_or_refuse, refuse
from winstackers.emulator.hyperv.storage import CONTROLLERS, DRIVES, IMAGES, SCSI, Kind

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

PIPE = re.compile(r"^\\\\[^\\]+\\pipe\\[^\\]+$", re.IGNORECASE)
MAX_IOPS = 1_000_000_000
Planned = list[tuple[str, dict[str, Any]]]


def _kind(record: dict[str, Any], class_name: str, where: str) -> Kind:
    kind = storage.kind_of(record)
    if kind is None:
        raise NotSupported(where=f"{where} of a {class_name} with ResourceSubType "
                           f"{record.get('ResourceSubType')!r}", detail="not emulated")
    if kind.class_name.lower() != class_name.lower():
        refuse(INVALID_PARAMETER, f"{where}: ResourceSubType {kind.subtype!r} is a "
               f"{kind.class_name}, not a {class_name}")
    return kind


def check_state(vm_record: dict[str, Any], controller: str | None, what: str) -> None:
    """Refuse (5) a change to a device on *controller* in this VM state."""
    state = vm_record["EnabledState"]
    if state == model.OFF or (state == model.RUNNING and controller == SCSI):
        return
    on = "a SCSI controller" if controller == SCSI else "an IDE controller"
    refuse(INVALID_STATE, f"cannot {what} on {on} of VM {vm_record['ElementName']!r} in "
           f"EnabledState {state}: IDE devices change only while the VM is off, SCSI "
           "devices while it is off or running")


def _off_only(vm_record: dict[str, Any], what: str) -> None:
    if vm_record["EnabledState"] != model.OFF:
        refuse(INVALID_STATE, f"cannot {what} of VM {vm_record['ElementName']!r} in "
               f"EnabledState {vm_record['EnabledState']}: only while it is off")


class AddPlan:
    """Checks one storage setting of an AddResourceSettings call."""

    def __init__(self, host: EmulatedHost, vssd: Reference, planned: Planned) -> None:
        self.host, self.vssd, self.planned = host, vssd, planned
        self.vm_record = host.store.get(model.system_of(host.store, vssd))
        self.vm_guid = host.store.get(vssd)["VirtualSystemIdentifier"]
        self.generation = model.generation(host.store.get(vssd))

    def record(self, rasd: Instance) -> dict[str, Any]:
        """The record to store for *rasd*, or a refusal."""
        kind = _kind(dict(rasd.properties), rasd.class_name, "AddResourceSettings")
        values = {k: v for k, v in rasd.properties.items() if v is not None}
        if values.get("ResourceType", kind.resource_type) != kind.resource_type:
            refuse(INVALID_PARAMETER, f"AddResourceSettings: a {kind.subtype!r} has "
                   f"ResourceType {kind.resource_type}, not {values['ResourceType']}")
        record = {**kind.defaults(), **values}
        if kind.subtype in CONTROLLERS:
            record["InstanceID"] = self._controller(kind, record)
        elif kind.subtype in DRIVES:
            record["InstanceID"] = self._drive(kind, record)
        elif kind.subtype in IMAGES:
            record["InstanceID"] = self._image(kind, record)
        else:
            refuse(INVALID_PARAMETER, "AddResourceSettings: a VM has exactly two serial "
                   "ports (COM 1 and COM 2); modify their Connection instead")
        return record

    def _controller(self, kind: Kind, record: dict[str, Any]) -> str:
        if kind.subtype != SCSI:
            if self.generation == 2:
                refuse(NOT_SUPPORTED, "AddResourceSettings: generation 2 VMs have no IDE "
                       "controller")
            refuse(INVALID_PARAMETER, "AddResourceSettings: a generation 1 VM has exactly "
                   "two IDE controllers")
        _off_only(self.vm_record, "add a SCSI controller")
        count = len(self._stored(storage.RASD, SCSI)) + sum(
            1 for c, r in self.planned if r.get("ResourceSubType") == SCSI)
        if count >= storage.MAX_SCSI_CONTROLLERS:
            refuse(INVALID_PARAMETER, f"AddResourceSettings: VM {self.vm_record['ElementName']!r}"
                   f" already has {storage.MAX_SCSI_CONTROLLERS} SCSI controllers")
        record.setdefault("VirtualSystemIdentifiers", [f"{{{model.new_guid()}}}"])
        return f"Microsoft:{self.vm_guid}\\{model.new_guid()}"

    def _planned_under(self, parent: Reference) -> list[dict[str, Any]]:
        return [r for _, r in self.planned
                if model.parse_path(self.host.store, r.get("Parent")) == parent]

    def _stored(self, class_name: str, subtype: str) -> list[dict[str, Any]]:
        return [self.host.store.get(ref) for ref in
                model.devices_of(self.host.store, self.vssd, class_name)
                if self.host.store.get(ref).get("ResourceSubType") == subtype]

    def _parent(self, record: dict[str, Any], subtypes: tuple[str, ...],
                what: str) -> tuple[Reference, dict[str, Any]]:
        ref = model.parse_path(self.host.store, record.get("Parent"))
        found = self.host.store.find(ref) if ref is not None else None
        if ref is None or found is None or found.get("ResourceSubType") not in subtypes \
                or owner_or_refuse(self.host, ref, "AddResourceSettings") != self.vssd:
            refuse(INVALID_PARAMETER, f"AddResourceSettings: Parent {record.get('Parent')!r} is "
                   f"not an existing {what} of VM {self.vm_record['ElementName']!r} (a setting "
                   "added in the same call has no path yet)")
        return ref, found

    def _drive(self, kind: Kind, record: dict[str, Any]) -> str:
        controller, found = self._parent(record, CONTROLLERS, "controller")
        ckind = storage.KINDS[found["ResourceSubType"]]
        check_state(self.vm_record, ckind.subtype, f"add a {kind.element_name.lower()}")
        slot = str(record.get("AddressOnParent") or "")
        if not slot.isdigit() or not 0 <= int(slot) < ckind.slots:
            refuse(INVALID_PARAMETER, f"AddResourceSettings: AddressOnParent {slot!r} is not a "
                   f"slot of a {ckind.element_name} (0-{ckind.slots - 1})")
        taken = [r for _, r in storage.children(self.host, self.vssd, controller, storage.RASD)]
        taken += self._planned_under(controller)
        if any(str(r.get("AddressOnParent")) == str(int(slot)) for r in taken):
            refuse(INVALID_PARAMETER, f"AddResourceSettings: slot {int(slot)} of that "
                   f"{ckind.element_name} is taken")
        record["AddressOnParent"] = str(int(slot))
        return f"{found['InstanceID']}\\{int(slot)}\\D"

    def _image(self, kind: Kind, record: dict[str, Any]) -> str:
        drive, found = self._parent(record, (kind.holds,), f"{kind.holds!r} drive")
        check_state(self.vm_record, storage.controller_subtype(self.host, found),
                    f"add a {kind.element_name.lower()}")
        if storage.children(self.host, self.vssd, drive, storage.SASD) \
                or self._planned_under(drive):
            refuse(INVALID_PARAMETER, "AddResourceSettings: the drive already holds an image; "
                   "modify its HostResource instead")
        check_file(self.host, kind, record.get("HostResource"), None, "AddResourceSettings",
                   self.planned)
        return f"{found['InstanceID'].rsplit(chr(92), 1)[0]}\\L"


def check_file(host: EmulatedHost, kind: Kind, host_resource: Any, itself: Reference | None,
               where: str, planned: Planned | None = None) -> None:
    """Refuse (4) a HostResource that does not name one usable file."""
    paths = list(host_resource or [])
    if len(paths) != 1 or not isinstance(paths[0], str) or not paths[0]:
        refuse(INVALID_PARAMETER, f"{where}: HostResource {paths!r} must name one file")
    path = paths[0]
    found = host.files.find(path)
    if found is None or found.kind not in kind.files:
        refuse(INVALID_PARAMETER, f"{where}: HostResource {path!r} is not an existing "
               f"{'/'.join(kind.files)} file of the host")
    if found.kind == "iso":
        return
    stored = [ref for ref, _ in storage.attachments(host, path) if ref != itself]
    in_call = [r for _, r in planned or [] if path.lower() in
               (str(p).lower() for p in r.get("HostResource") or [])]
    if stored or in_call:
        refuse(INVALID_PARAMETER, f"{where}: virtual hard disk {path!r} is attached already")
    if host.files.children_of(path):
        refuse(INVALID_PARAMETER, f"{where}: virtual hard disk {path!r} is the parent of a "
               "differencing disk and cannot be attached")


_MODIFIABLE = {storage.SASD.lower(): ("HostResource", "IOPSLimit", "IOPSReservation"),
               storage.RASD.lower(): ("ElementName",),
               storage.SERIAL.lower(): ("Connection", "DebuggerMode")}


def modify_step(host: EmulatedHost, ref: Reference, record: dict[str, Any],
                changes: dict[str, Any], vm_record: dict[str, Any]) -> Callable[[], None]:
    """Check a ModifyResourceSettings change; return what applies it."""
    where = f"ModifyResourceSettings of {ref.class_name}"
    kind = _kind(record, ref.class_name, "ModifyResourceSettings")
    allowed = _MODIFIABLE[ref.class_name.lower()]
    if kind.subtype == SCSI:
        allowed += ("VirtualSystemIdentifiers",)
    for name in changes:
        if name not in allowed:
            refuse(INVALID_PARAMETER, f"{where}: property {name} is read-only")
    if "HostResource" in changes:
        check_state(vm_record, storage.controller_subtype(host, record), "change an image")
        check_file(host, kind, changes["HostResource"], ref, where)
    if {"IOPSLimit", "IOPSReservation"} & set(changes):
        _check_iops({**record, **changes}, where)
    if {"Connection", "DebuggerMode"} & set(changes):
        _off_only(vm_record, f"change {record.get('ElementName')}")
        _check_connection(changes.get("Connection", record.get("Connection")), where)
    return lambda: host.store.update(ref, changes)


def _check_iops(new: dict[str, Any], where: str) -> None:
    limit, reserve = new.get("IOPSLimit") or 0, new.get("IOPSReservation") or 0
    if limit > MAX_IOPS or reserve > MAX_IOPS:
        refuse(INVALID_PARAMETER, f"{where}: IOPSLimit and IOPSReservation are at most {MAX_IOPS}")
    if limit and reserve and limit < reserve:
        refuse(INVALID_PARAMETER, f"{where}: IOPSLimit {limit} is below IOPSReservation {reserve}")


def _check_connection(connection: Any, where: str) -> None:
    values = list(connection or [])
    if len(values) > 1 or any(v and not PIPE.match(str(v)) for v in values):
        refuse(INVALID_PARAMETER, f"{where}: Connection {values!r} is not one named pipe "
               r"(\\.\pipe\name or \\server\pipe\name) or empty")


def check_remove(host: EmulatedHost, ref: Reference, earlier: list[Reference]) -> None:
    """Refuse removing *ref* (after *earlier* in the same call) when it is a
    fixed device, still holds something, or its VM's state forbids it."""
    record = host.store.get(ref)
    kind = _kind(record, ref.class_name, "RemoveResourceSettings")
    vssd = owner_or_refuse(host, ref, "RemoveResourceSettings")
    vm_record = host.store.get(model.system_of(host.store, vssd))
    if kind.subtype not in (SCSI, *DRIVES, *IMAGES):
        refuse(INVALID_PARAMETER, f"RemoveResourceSettings: {record.get('ElementName')!r} is a "
               "fixed device of the VM and cannot be removed")
    if kind.subtype == SCSI:
        _off_only(vm_record, "remove a SCSI controller")
    else:
        check_state(vm_record, storage.controller_subtype(host, record),
                    f"remove a {kind.element_name.lower()}")
    held = storage.SASD if kind.subtype in DRIVES else storage.RASD
    if kind.subtype not in IMAGES and any(
            child not in earlier for child, _ in storage.children(host, vssd, ref, held)):
        refuse(INVALID_PARAMETER, f"RemoveResourceSettings: {record.get('ElementName')!r} still "
               "holds a drive or an image; remove that first (earlier in the same call)")
