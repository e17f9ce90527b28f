"""``HyperVDriver``: nova 34's compute driver for a Hyper-V host.

Nova loads it as ``compute_driver = winstackers.HyperVDriver`` (through the
``nova.virt.winstackers`` shim this package installs).  One nova-compute
manages one Hyper-V host, on the host itself (``[hyperv_host] url =
local://``) or remotely over WS-Management; the node is named after the
host's computer name.  Everything on the host goes through the host
library (:mod:`winstackers.hyperv`): no ``Msvm_*`` name here.

What an instance is on the host:

- a VM named after ``instance.name``, with the instance UUID in its notes
  (:class:`~winstackers.hyperv.vmstate.VMSpec`), the flavor's vCPUs and
  memory, generation 1 or 2 from the image's ``hw_machine_type``
  (``hyperv-gen1`` / ``hyperv-gen2``; ``[hyperv_compute]
  default_generation`` otherwise);
- secure boot when the flavor's ``os:secure_boot`` or the image's
  ``os_secure_boot`` asks (nova's policy values,
  https://docs.openstack.org/nova/latest/admin/secure-boot.html): the
  ``MicrosoftWindows`` template for ``os_type=windows`` images, the
  ``MicrosoftUEFICertificateAuthority`` template (which Linux shims are
  signed with) otherwise; generation 2 only;
- one network adapter per VIF, named after the neutron port id and
  carrying its MAC: vif_type ``hyperv`` (what the ``hyperv`` ML2 driver
  binds) is plugged by creating the adapter, and the Hyper-V agent wires
  the switch port; nova's os-vif refuses that type, so the driver plugs it
  itself and refuses any other type.

- disks (:mod:`.instancedisks`): a root disk differencing the image, kept
  once per host in an image cache (:mod:`.imagecache`; ``vhd`` and
  ``vhdx`` images only), grown to the flavor's root disk; an ephemeral
  disk; a config drive ISO when nova asks for one (:mod:`.configdrive`);
  all in the instance's folder under ``[hyperv_compute] instances_path``.

Files reach the host through a file channel (:mod:`winstackers.files`),
chosen from ``[hyperv_host] url``: local paths on the host itself, the
SMB share ``[hyperv_compute] instances_share`` from Linux.

Power operations map to Hyper-V's: soft reboot and power off shut the
guest down through its integration services with a timeout, then turn it
off; hard reboot resets it; suspend saves its state; pause pauses it.

Not implemented yet (nova then reports the operation as not supported):
swap disks, volumes, console output, migrations, snapshots, cleaning the
image cache (``manage_image_cache``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import os_resource_classes as orc
from nova import exception
from nova.compute import power_state
from nova.conf import CONF
from nova.objects import fields as obj_fields
from nova.virt import driver, hardware
from oslo_serialization import jsonutils
from oslo_utils import excutils, versionutils

from winstackers.cim import connect, redact
from winstackers.cim.api import Session
from winstackers.cim.errors import CimError
from winstackers.files import FileChannel, FileChannelError, open_channel
from winstackers.hyperv.disks import Images
from winstackers.hyperv.errors import InvalidDesiredState, VMNotFound, VNicNotFound
from winstackers.hyperv.hostinfo import HostInfo, read_boot_time, read_disk_space, read_host_info
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import PowerState, VMInfo, VMSpec
from winstackers.hyperv.vnics import VNics
from winstackers.nova import config
from winstackers.nova.imagecache import ImageCache, disk_format_of
from winstackers.nova.instancedisks import ConfigDriveContent, InstanceDisks

LOG = logging.getLogger(__name__)
VIF_TYPE_HYPERV = "hyperv"
WINDOWS_TEMPLATE = "MicrosoftWindows"
UEFI_CA_TEMPLATE = "MicrosoftUEFICertificateAuthority"
GIB = 1024 ** 3

#: Hyper-V power states as nova's.
POWER_STATES = {
    PowerState.RUNNING: power_state.RUNNING,
    PowerState.OFF: power_state.SHUTDOWN,
    PowerState.SAVED: power_state.SUSPENDED,
    PowerState.PAUSED: power_state.PAUSED,
    PowerState.STARTING: power_state.RUNNING,
    PowerState.SHUTTING_DOWN: power_state.RUNNING,
    PowerState.UNKNOWN: power_state.NOSTATE,
}

config.register_opts(CONF)


class HyperVDriver(driver.ComputeDriver):  # type: ignore[misc]
    """A Hyper-V host as a nova compute node (module documentation)."""

    capabilities = {
        **driver.ComputeDriver.capabilities,
        "supports_attach_interface": True,
        "supports_secure_boot": True,
        "supports_image_type_vhd": True,
        "supports_image_type_vhdx": True,
    }

    def __init__(self, virtapi: Any, read_only: bool = False) -> None:
        super().__init__(virtapi)
        self._session: Session | None = None
        self._host_info: HostInfo | None = None
        self._channel: FileChannel | None = None
        self._image_cache: ImageCache | None = None
        self._disks: InstanceDisks | None = None
        self._lock = threading.Lock()

    # -- the host ---------------------------------------------------------------------
    def init_host(self, host: str) -> None:
        """Connect to the Hyper-V host, read its facts and choose the file
        channel to its instances folder.

        :raises CimError: when the host cannot be reached or read (nova-compute
            then stops, saying why).
        :raises InvalidConfiguration: when the file channel's options are
            missing or wrong (naming them).
        """
        self._host_info = info = read_host_info(self.session)
        LOG.info("Hyper-V host %s: instances' files through %s", info.name, self.channel.where)
        LOG.info("Hyper-V host %s: %s, %d logical processors, %d MB", info.name,
                 info.os_caption, info.logical_processors, info.memory_total_mb)

    def cleanup_host(self, host: str) -> None:
        """Close the host session and the file channel."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
            self._image_cache = self._disks = None
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def channel(self) -> FileChannel:
        """The file channel to the host's instances folder, from
        ``[hyperv_host] url`` (:func:`winstackers.files.open_channel`)."""
        session = self.session
        with self._lock:
            if self._channel is None:
                compute = CONF.hyperv_compute
                try:
                    self._channel = open_channel(
                        CONF.hyperv_host.url, session=session,
                        password=CONF.hyperv_host.password,
                        instances_path=compute.instances_path, share=compute.instances_share,
                        share_port=compute.instances_share_port)
                except FileChannelError as exc:
                    raise exception.InvalidConfiguration(str(exc)) from exc
            return self._channel

    @property
    def image_cache(self) -> ImageCache:
        """The host's image cache (:mod:`.imagecache`)."""
        if self._image_cache is None:
            self._image_cache = ImageCache(self.channel, Images(self.session),
                                           CONF.hyperv_compute.instances_path)
        return self._image_cache

    @property
    def disks(self) -> InstanceDisks:
        """The instances' folders and disks (kept: it caches the host's
        default drive and image settings)."""
        if self._disks is None:
            self._disks = InstanceDisks(self.session, self.channel, self.image_cache,
                                        CONF.hyperv_compute.instances_path)
        return self._disks

    @property
    def session(self) -> Session:
        """The host session, opened on first use from ``[hyperv_host]``."""
        with self._lock:
            if self._session is None:
                url = CONF.hyperv_host.url
                LOG.info("connecting to Hyper-V host %s", redact(url))
                self._session = connect(url, password=CONF.hyperv_host.password)
            return self._session

    @property
    def host_info(self) -> HostInfo:
        """The host's facts, read at ``init_host``."""
        if self._host_info is None:
            self._host_info = read_host_info(self.session)
        return self._host_info

    @property
    def vms(self) -> VMs:
        """The host's VMs."""
        return VMs(self.session)

    @property
    def vnics(self) -> VNics:
        """The host's network adapters."""
        return VNics(self.session)

    def get_available_nodes(self, refresh: bool = False) -> list[str]:
        """One node: the Hyper-V host, by its computer name."""
        if refresh:
            self._host_info = read_host_info(self.session)
        return [self.host_info.name]

    def get_host_uptime(self) -> str:
        """How long the host has been up, as ``uptime`` says it."""
        booted = read_boot_time(self.session)
        seconds = int((datetime.now(UTC) - booted).total_seconds())
        days, rest = divmod(max(seconds, 0), 86400)
        hours, rest = divmod(rest, 3600)
        return (f"{datetime.now(UTC):%H:%M:%S} up {days} days, {hours:2d}:{rest // 60:02d}, "
                "0 users")

    def get_available_resource(self, nodename: str) -> dict[str, Any]:
        """What the resource tracker records for the node (sizes in MB/GB)."""
        info = read_host_info(self.session)
        self._host_info = info
        disk = read_disk_space(self.session, _drive_of(CONF.hyperv_compute.instances_path))
        running = [vm for vm in self.vms.list_all()
                   if vm.state not in (PowerState.OFF, PowerState.SAVED)]
        version = versionutils.convert_version_to_int(info.os_version)
        return {
            "vcpus": info.logical_processors,
            "memory_mb": info.memory_total_mb,
            "local_gb": disk.size // GIB,
            "vcpus_used": sum(vm.vcpus for vm in running),
            "memory_mb_used": info.memory_total_mb - info.memory_free_mb,
            "local_gb_used": disk.used // GIB,
            "hypervisor_type": obj_fields.HVType.HYPERV,
            "hypervisor_version": version,
            "hypervisor_hostname": info.name,
            "cpu_info": jsonutils.dumps({"arch": obj_fields.Architecture.X86_64,
                                         "topology": {"cores": info.logical_processors,
                                                      "threads": 1, "sockets": 1}}),
            "disk_available_least": disk.free // GIB,
            "supported_instances": [(obj_fields.Architecture.X86_64,
                                     obj_fields.HVType.HYPERV, obj_fields.VMMode.HVM)],
            "numa_topology": None,
        }

    def update_provider_tree(self, provider_tree: Any, nodename: str,
                             allocations: Any = None) -> None:
        """VCPU, MEMORY_MB and DISK_GB inventories of the node.  Traits come
        from :attr:`capabilities` (nova adds them itself).  The host's size
        is the one last read (nova's resource tracker calls
        :meth:`get_available_resource`, which reads it, just before)."""
        info = self.host_info
        disk = read_disk_space(self.session, _drive_of(CONF.hyperv_compute.instances_path))
        ratios = self._get_allocation_ratios(provider_tree.data(nodename).inventory)
        totals = {orc.VCPU: (info.logical_processors, CONF.reserved_host_cpus),
                  orc.MEMORY_MB: (info.memory_total_mb, CONF.reserved_host_memory_mb),
                  orc.DISK_GB: (disk.size // GIB, self._get_reserved_host_disk_gb_from_config())}
        provider_tree.update_inventory(nodename, {
            rc: {"total": total, "min_unit": 1, "max_unit": total, "step_size": 1,
                 "allocation_ratio": ratios[rc], "reserved": reserved}
            for rc, (total, reserved) in totals.items()})

    # -- reading instances ---------------------------------------------------------------
    def _vm(self, instance: Any) -> VMInfo:
        """The VM of *instance*; InstanceNotFound when there is none."""
        try:
            return self.vms.get(instance.name)
        except VMNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid) from None

    def get_info(self, instance: Any, use_cache: bool = True) -> hardware.InstanceInfo:
        """The instance's power state."""
        vm = self._vm(instance)
        return hardware.InstanceInfo(state=POWER_STATES[vm.state], internal_id=vm.vm_id)

    def instance_exists(self, instance: Any) -> bool:
        """Whether the host has the instance's VM."""
        try:
            self.vms.get(instance.name)
        except VMNotFound:
            return False
        return True

    def list_instances(self) -> list[str]:
        """Names of the VMs nova made (those carrying an instance UUID)."""
        return [vm.name for vm in self.vms.list_all() if vm.instance_id]

    def list_instance_uuids(self) -> list[str]:
        """UUIDs of the instances on the host."""
        return [vm.instance_id for vm in self.vms.list_all() if vm.instance_id]

    def get_num_instances(self) -> int:
        """How many instances the host has."""
        return len(self.list_instance_uuids())

    # -- spawn and destroy ------------------------------------------------------------------
    def spawn(self, context: Any, instance: Any, image_meta: Any, injected_files: Any,
              admin_password: Any, allocations: Any, network_info: Any = None,
              block_device_info: Any = None, power_on: bool = True,
              accel_info: Any = None) -> None:
        """Fetch the image into the host's cache, define the VM, make and
        attach its disks, add a network adapter per VIF, wait for neutron to
        say the ports are plugged, start it.  What was made is removed when
        a step fails.

        :raises ImageUnacceptable: an image that is not vhd/vhdx or asks for
            what Hyper-V cannot do; before anything is made.
        """
        spec = vm_spec(instance, image_meta)
        disk_format_of(image_meta)
        vifs = list(network_info or [])
        for vif in vifs:
            _check_vif(instance, vif)
        LOG.info("spawning instance %s as generation %d VM %s", instance.uuid,
                 spec.generation, spec.name)
        image = self._host_call(instance, self.image_cache.fetch, context, image_meta)
        content = ConfigDriveContent(injected_files, admin_password, network_info)
        try:
            with self._wait_for_plugged(instance, vifs):
                self._host_call(instance, self.vms.ensure, spec)
                self._host_call(instance, self.disks.create, context, instance, spec.name,
                                image, content)
                for vif in vifs:
                    self._host_call(instance, self.vnics.add, spec.name, vif["id"],
                                    vif["address"])
            if power_on:
                self._host_call(instance, self.vms.start, spec.name)
        except Exception:
            with excutils.save_and_reraise_exception():
                self._undo_spawn(instance)

    def _undo_spawn(self, instance: Any) -> None:
        """Remove the VM and the folder of a spawn that failed (best effort:
        what cannot be removed is logged, the spawn's own error is raised)."""
        actions: list[tuple[str, Callable[[], None]]] = [
            ("VM", lambda: self.vms.destroy(instance.name)),
            ("folder", lambda: self.disks.remove(instance))]
        for what, action in actions:
            try:
                action()
            except VMNotFound:
                continue
            except (CimError, FileChannelError) as exc:
                LOG.warning("instance %s: could not remove the %s of a failed spawn: %s",
                            instance.uuid, what, exc)

    def cache_image(self, context: Any, image_id: str) -> bool:
        """Fetch an image into the host's cache (nova's image pre-caching);
        whether it was fetched now.

        :raises ImageUnacceptable: an image that is not vhd/vhdx.
        """
        from nova import objects
        from nova.image import glance

        image_meta = objects.ImageMeta.from_dict(glance.API().get(context, image_id))
        try:
            return self.image_cache.fetch(context, image_meta).fetched
        except FileChannelError as exc:
            raise exception.NovaException(f"image {image_id}: the Hyper-V host's files: "
                                          f"{exc}") from exc

    @contextmanager
    def _wait_for_plugged(self, instance: Any, vifs: list[Any]) -> Iterator[None]:
        """Wait after the block for ``network-vif-plugged`` of the VIFs
        neutron has not reported active yet (nova's ``vif_plugging_timeout``
        and ``vif_plugging_is_fatal``)."""
        events = [("network-vif-plugged", vif["id"]) for vif in vifs
                  if vif.get("active", True) is False]
        timeout = CONF.vif_plugging_timeout
        if not events or not timeout:
            yield
            return

        def failed(name: str, event_instance: Any) -> None:
            LOG.error("neutron reported %s for instance %s", name, instance.uuid)
            if CONF.vif_plugging_is_fatal:
                raise exception.VirtualInterfaceCreateException()

        try:
            with self.virtapi.wait_for_instance_event(instance, events, timeout=timeout,
                                                      error_callback=failed):
                yield
        except exception.InstanceEventTimeout:
            LOG.warning("timed out after %d s waiting for network-vif-plugged of instance %s",
                        timeout, instance.uuid)
            if CONF.vif_plugging_is_fatal:
                raise exception.VirtualInterfaceCreateException() from None

    def destroy(self, context: Any, instance: Any, network_info: Any,
                block_device_info: Any = None, destroy_disks: bool = True,
                destroy_secrets: bool = True) -> None:
        """Turn the VM off and delete it (its network adapters go with it),
        then, with *destroy_disks*, remove the instance's folder and its
        disks; nothing to do for what is gone already."""
        try:
            self.vms.destroy(instance.name)
            LOG.info("instance %s: VM %s destroyed", instance.uuid, instance.name)
        except VMNotFound:
            LOG.info("instance %s: no VM %s on the host", instance.uuid, instance.name)
        except CimError as exc:
            raise exception.InstanceTerminationFailure(reason=str(exc)) from exc
        if destroy_disks:
            self._remove_folder(instance)

    def _remove_folder(self, instance: Any) -> None:
        try:
            self.disks.remove(instance)
        except FileChannelError as exc:
            raise exception.InstanceTerminationFailure(
                reason=f"the instance's folder on the host: {exc}") from exc

    def cleanup(self, context: Any, instance: Any, network_info: Any,
                block_device_info: Any = None, destroy_disks: bool = True,
                migrate_data: Any = None, destroy_vifs: bool = True,
                destroy_secrets: bool = True) -> None:
        """Remove the instance's folder with *destroy_disks* (what
        :meth:`destroy` has not removed already)."""
        if destroy_disks:
            self._remove_folder(instance)

    # -- power ---------------------------------------------------------------------------
    def reboot(self, context: Any, instance: Any, network_info: Any, reboot_type: str,
               block_device_info: Any = None, bad_volumes_callback: Any = None,
               accel_info: Any = None, share_info: Any = None) -> None:
        """SOFT: shut the guest down (``[DEFAULT] shutdown_timeout``) and
        start it; HARD: reset it (start it when it is off)."""
        name = self._vm(instance).name
        if reboot_type == "SOFT":
            self._host_call(instance, self.vms.shutdown, name,
                            timeout=float(CONF.shutdown_timeout))
            self._host_call(instance, self.vms.start, name)
            return
        if self._vm(instance).state == PowerState.RUNNING:
            self._host_call(instance, self.vms.reboot, name)
        else:
            self._host_call(instance, self.vms.start, name)

    def power_off(self, instance: Any, timeout: int = 0, retry_interval: int = 0) -> None:
        """With a timeout, shut the guest down and turn it off after it;
        without, turn it off at once."""
        vm = self._vm(instance)
        if vm.state == PowerState.OFF:
            return
        if timeout:
            self._host_call(instance, self.vms.shutdown, vm.name, timeout=float(timeout))
        else:
            self._host_call(instance, self.vms.turn_off, vm.name)

    def power_on(self, context: Any, instance: Any, network_info: Any,
                 block_device_info: Any = None, accel_info: Any = None,
                 share_info: Any = None) -> None:
        """Start the VM (from off or saved; nothing when it runs)."""
        vm = self._vm(instance)
        if vm.state == PowerState.PAUSED:
            self._host_call(instance, self.vms.resume, vm.name)
        elif vm.state != PowerState.RUNNING:
            self._host_call(instance, self.vms.start, vm.name)

    def pause(self, instance: Any) -> None:
        """Pause the running VM."""
        self._host_call(instance, self.vms.pause, self._vm(instance).name)

    def unpause(self, instance: Any) -> None:
        """Resume the paused VM."""
        self._host_call(instance, self.vms.resume, self._vm(instance).name)

    def suspend(self, context: Any, instance: Any) -> None:
        """Save the VM's state (Hyper-V's saved state)."""
        self._host_call(instance, self.vms.save, self._vm(instance).name)

    def resume(self, context: Any, instance: Any, network_info: Any,
               block_device_info: Any = None, share_info: Any = None) -> None:
        """Start the VM from its saved state."""
        self._host_call(instance, self.vms.start, self._vm(instance).name)

    def resume_state_on_host_boot(self, context: Any, instance: Any, network_info: Any,
                                  share_info: Any, block_device_info: Any = None) -> None:
        """After the host rebooted: start the instance if nova says it ran."""
        if self._vm(instance).state != PowerState.RUNNING:
            self._host_call(instance, self.vms.start, instance.name)

    # -- network adapters -----------------------------------------------------------------
    def plug_vifs(self, instance: Any, network_info: Any) -> None:
        """Make sure every VIF has its adapter (at host start-up)."""
        for vif in network_info or []:
            _check_vif(instance, vif)
            self._host_call(instance, self.vnics.add, instance.name, vif["id"], vif["address"])

    def unplug_vifs(self, instance: Any, network_info: Any) -> None:
        """Remove the adapters of the VIFs (gone already is fine)."""
        for vif in network_info or []:
            try:
                self.vnics.remove(vif["id"])
            except VNicNotFound:
                continue

    def attach_interface(self, context: Any, instance: Any, image_meta: Any, vif: Any) -> None:
        """Hot-add an adapter (a running generation 2 VM, or a VM that is off).

        :raises InterfaceAttachFailed: with Hyper-V's reason otherwise.
        """
        _check_vif(instance, vif)
        try:
            self.vnics.add(self._vm(instance).name, vif["id"], vif["address"])
        except (InvalidDesiredState, CimError) as exc:
            LOG.error("instance %s: cannot attach port %s: %s", instance.uuid, vif["id"], exc)
            raise exception.InterfaceAttachFailed(instance_uuid=instance.uuid) from exc

    def detach_interface(self, context: Any, instance: Any, vif: Any) -> None:
        """Hot-remove the adapter of *vif* (gone already is fine).

        :raises InterfaceDetachFailed: with Hyper-V's reason.
        """
        try:
            self.vnics.remove(vif["id"])
        except VNicNotFound:
            return
        except (InvalidDesiredState, CimError) as exc:
            LOG.error("instance %s: cannot detach port %s: %s", instance.uuid, vif["id"], exc)
            raise exception.InterfaceDetachFailed(instance_uuid=instance.uuid) from exc

    # -- helpers --------------------------------------------------------------------------
    def _host_call(self, instance: Any, action: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a host library call for *instance*; its errors as nova's."""
        try:
            return action(*args, **kwargs)
        except VMNotFound:
            raise exception.InstanceNotFound(instance_id=instance.uuid) from None
        except InvalidDesiredState as exc:
            raise exception.InstanceInvalidState(
                attr="state", instance_uuid=instance.uuid, state=str(exc),
                method=getattr(action, "__name__", "host call")) from exc
        except CimError as exc:
            raise exception.NovaException(
                f"instance {instance.uuid}: the Hyper-V host refused: {exc}") from exc
        except FileChannelError as exc:
            raise exception.NovaException(
                f"instance {instance.uuid}: the Hyper-V host's files: {exc}") from exc


def _drive_of(path: str) -> str:
    """The drive letter of a Windows path (``C:\\OpenStack`` -> ``C:``)."""
    return path[:2] if len(path) >= 2 and path[1] == ":" else "C:"


def _check_vif(instance: Any, vif: Any) -> None:
    if vif.get("type") != VIF_TYPE_HYPERV:
        raise exception.VirtualInterfacePlugException(
            f"instance {instance.uuid}: port {vif.get('id')} has vif_type "
            f"{vif.get('type')!r}; the Hyper-V driver plugs only 'hyperv' ports (bind "
            "them with neutron's 'hyperv' mechanism driver)")


def generation_of(image_meta: Any) -> int:
    """The Hyper-V generation an image asks for (``hw_machine_type``).

    :raises ImageUnacceptable: naming the value when it is none of ours.
    """
    wanted = image_meta.properties.get("hw_machine_type") or CONF.hyperv_compute.default_generation
    if wanted not in config.GENERATIONS:
        raise exception.ImageUnacceptable(
            image_id=getattr(image_meta, "id", "?"),
            reason=f"hw_machine_type {wanted!r}: the Hyper-V driver knows "
                   f"{', '.join(sorted(config.GENERATIONS))}")
    return config.GENERATIONS[wanted]


def secure_boot_template(instance: Any, image_meta: Any, generation: int) -> str | None:
    """The secure boot template the flavor and image ask for, or None.

    nova's policy (``required``, ``disabled``, ``optional``;
    ``nova.virt.hardware.get_secure_boot_constraint``): ``required`` turns
    it on, and is refused on generation 1; ``optional`` turns it on where
    the VM can have it.
    """
    policy = hardware.get_secure_boot_constraint(instance.flavor, image_meta)
    if policy in (None, obj_fields.SecureBoot.DISABLED):
        return None
    if generation != 2:
        if policy == obj_fields.SecureBoot.REQUIRED:
            raise exception.ImageUnacceptable(
                image_id=getattr(image_meta, "id", "?"),
                reason="secure boot needs a generation 2 VM (hw_machine_type=hyperv-gen2)")
        return None
    os_type = image_meta.properties.get("os_type") or getattr(instance, "os_type", None)
    return WINDOWS_TEMPLATE if os_type == "windows" else UEFI_CA_TEMPLATE


def vm_spec(instance: Any, image_meta: Any) -> VMSpec:
    """The VM an instance is, from its flavor and image."""
    generation = generation_of(image_meta)
    flavor = instance.flavor
    try:
        return VMSpec(name=instance.name, generation=generation, vcpus=int(flavor.vcpus),
                      memory_mb=int(flavor.memory_mb), instance_id=instance.uuid,
                      secure_boot=secure_boot_template(instance, image_meta, generation))
    except InvalidDesiredState as exc:
        raise exception.InvalidRequest(f"instance {instance.uuid}: {exc}") from exc
