"""The compute driver, judged by what it leaves on an emulated Hyper-V host.

Each test drives :class:`HyperVDriver` with nova's own objects (Instance,
Flavor, ImageMeta, NetworkInfo) and reads the host back through the host
library: the VM's generation, processors, memory, secure boot template and
instance id, its network adapters, its power state after each operation.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import os_traits
import pytest
from nova import exception, objects
from nova.compute import power_state, provider_tree
from nova.conf import CONF
from nova.network import model as network_model
from nova.virt import driver as nova_driver
from nova.virt import fake

from winstackers.cim import Session, connect
from winstackers.cim.connect import forget_shared_hosts
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import PowerState
from winstackers.hyperv.vnics import VNics
from winstackers.nova.driver import HyperVDriver

from .images import Glance

HOST = "WIN-HV-EMU01"


class RecordingVirtAPI(fake.FakeVirtAPI):  # type: ignore[misc]
    """nova's fake VirtAPI, remembering which events the driver waited for."""

    def __init__(self) -> None:
        super().__init__()
        self.waited: list[tuple[str, str]] = []

    @contextmanager
    def wait_for_instance_event(self, instance: Any, event_names: Any, timeout: float = 300,
                                error_callback: Any = None) -> Iterator[None]:
        self.waited += list(event_names)
        yield


class Lab:
    """A driver on a fresh emulated host keeping its files in *files_root*,
    images from nova's GlanceFixture, and the host seen through the library."""

    def __init__(self, files_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.files_root = files_root
        url = f"emulator://nova-driver-{uuid.uuid4().hex[:8]}?files={files_root}"
        CONF.set_override("url", url, group="hyperv_host")
        self.glance = Glance(monkeypatch)
        self.session: Session = connect(url)
        host = getattr(self.session, "emulated_host", None)
        assert isinstance(host, EmulatedHost)
        self.host = host
        self.virtapi = RecordingVirtAPI()
        self.driver = HyperVDriver(self.virtapi)
        self.driver.init_host("compute1")
        self.vms, self.vnics = VMs(self.session), VNics(self.session)
        self._ids = iter(range(1, 1000))

    def instance(self, vcpus: int = 2, memory_mb: int = 2048,
                 extra_specs: dict[str, str] | None = None,
                 os_type: str | None = None, root_gb: int = 0, ephemeral_gb: int = 0,
                 config_drive: bool = False) -> Any:
        flavor = objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, root_gb=root_gb,
                                ephemeral_gb=ephemeral_gb, swap=0,
                                extra_specs=extra_specs or {}, name="m1.test")
        return objects.Instance(id=next(self._ids), uuid=str(uuid.uuid4()), flavor=flavor,
                                os_type=os_type, host="compute1", node=HOST,
                                config_drive="True" if config_drive else "", launched_at=None,
                                system_metadata={})

    def spawn(self, instance: Any, properties: dict[str, str] | None = None,
              vifs: list[Any] | None = None, power_on: bool = True,
              image: Any = None) -> None:
        image = image or self.glance.add(properties=properties)
        instance.image_ref = image.id
        self.driver.spawn(None, instance, image, [], "pw", {},
                          network_info=network_model.NetworkInfo(vifs or []),
                          power_on=power_on)

    def close(self) -> None:
        self.driver.cleanup_host("compute1")
        self.session.close()
        self.glance.close()
        CONF.clear_override("url", group="hyperv_host")
        forget_shared_hosts()


def vif(vif_type: str = "hyperv", active: bool = True) -> Any:
    return network_model.VIF(id=str(uuid.uuid4()), address="fa:16:3e:12:34:56",
                             type=vif_type, active=active)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lab]:
    made = Lab(tmp_path, monkeypatch)
    yield made
    made.close()


# -- loading -------------------------------------------------------------------------------
def test_nova_loads_the_driver_by_its_short_name() -> None:
    CONF.set_override("compute_driver", "winstackers.HyperVDriver")
    try:
        loaded = nova_driver.load_compute_driver(fake.FakeVirtAPI())
    finally:
        CONF.clear_override("compute_driver")
    assert type(loaded) is HyperVDriver


def test_every_method_has_nova_34s_signature() -> None:
    ours = {name: member for name, member in vars(HyperVDriver).items()
            if inspect.isfunction(member) and not name.startswith("_")}
    checked = 0
    for name, method in ours.items():
        base = getattr(nova_driver.ComputeDriver, name, None)
        if base is None:
            continue
        wanted = [(p.name, p.kind, p.default) for p in inspect.signature(base).parameters.values()]
        got = [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()]
        assert got == wanted, f"{name}: {got} != {wanted}"
        checked += 1
    assert checked >= 25


def test_capabilities_give_the_secure_boot_and_attach_interface_traits() -> None:
    traits = HyperVDriver(fake.FakeVirtAPI()).capabilities_as_traits()
    assert traits[os_traits.COMPUTE_SECURITY_UEFI_SECURE_BOOT] is True
    assert traits[os_traits.COMPUTE_NET_ATTACH_INTERFACE] is True
    assert traits[os_traits.COMPUTE_VOLUME_EXTEND] is False


# -- the host ---------------------------------------------------------------------------------
def test_resources_come_from_the_host(lab: Lab) -> None:
    assert lab.driver.get_available_nodes() == [HOST]
    before = lab.driver.get_available_resource(HOST)
    assert (before["vcpus"], before["memory_mb"], before["local_gb"]) == (16, 65536, 2048)
    assert (before["vcpus_used"], before["local_gb_used"], before["disk_available_least"]) == (
        0, 120, 1928)
    assert (before["hypervisor_type"], before["hypervisor_hostname"]) == ("hyperv", HOST)
    assert before["hypervisor_version"] == 10_020_348  # 10.0.20348 as nova packs it
    lab.spawn(lab.instance(vcpus=4, memory_mb=4096))
    after = lab.driver.get_available_resource(HOST)
    assert after["vcpus_used"] == 4
    assert after["memory_mb_used"] - before["memory_mb_used"] == 4096


def test_provider_tree_gets_vcpu_memory_and_disk_inventories(lab: Lab) -> None:
    tree = provider_tree.ProviderTree()
    tree.new_root(HOST, str(uuid.uuid4()))
    lab.driver.update_provider_tree(tree, HOST)
    inventory = tree.data(HOST).inventory
    assert {rc: inv["total"] for rc, inv in inventory.items()} == {
        "VCPU": 16, "MEMORY_MB": 65536, "DISK_GB": 2048}
    assert inventory["MEMORY_MB"]["reserved"] == CONF.reserved_host_memory_mb
    assert all(inv["allocation_ratio"] > 0 for inv in inventory.values())


def test_uptime_reads_like_uptime(lab: Lab) -> None:
    assert " up 0 days, " in lab.driver.get_host_uptime()


# -- spawn ---------------------------------------------------------------------------------
def test_spawn_defines_the_flavor_s_vm_with_its_ports_and_starts_it(lab: Lab) -> None:
    instance = lab.instance(vcpus=2, memory_mb=2048)
    first, second = vif(), vif()
    lab.spawn(instance, vifs=[first, second])

    vm = lab.vms.get(instance.name)
    assert (vm.generation, vm.vcpus, vm.memory_mb, vm.instance_id, vm.secure_boot) == (
        2, 2, 2048, instance.uuid, None)
    assert vm.state == PowerState.RUNNING
    nics = {nic.name: nic for nic in lab.vnics.list_all(instance.name)}
    assert set(nics) == {first["id"], second["id"]}
    assert nics[first["id"]].mac == "FA163E123456"
    assert lab.driver.list_instances() == [instance.name]
    assert lab.driver.list_instance_uuids() == [instance.uuid]
    assert lab.driver.get_info(instance).state == power_state.RUNNING
    assert lab.virtapi.waited == []  # neutron said both ports were active


def test_spawn_waits_for_neutron_on_ports_not_yet_active(lab: Lab) -> None:
    CONF.set_override("vif_plugging_timeout", 300)
    try:
        pending, ready = vif(active=False), vif(active=True)
        lab.spawn(lab.instance(), vifs=[pending, ready])
    finally:
        CONF.clear_override("vif_plugging_timeout")
    assert lab.virtapi.waited == [("network-vif-plugged", pending["id"])]


def test_hw_machine_type_picks_the_generation(lab: Lab) -> None:
    gen1, gen2 = lab.instance(), lab.instance()
    lab.spawn(gen1, {"hw_machine_type": "hyperv-gen1"})
    lab.spawn(gen2, {"hw_machine_type": "hyperv-gen2"})
    assert lab.vms.get(gen1.name).generation == 1
    assert lab.vms.get(gen2.name).generation == 2


def test_an_unknown_machine_type_is_refused_naming_it(lab: Lab) -> None:
    with pytest.raises(exception.ImageUnacceptable, match="hw_machine_type 'pc-q35-8.0'"):
        lab.spawn(lab.instance(), {"hw_machine_type": "pc-q35-8.0"})
    assert lab.driver.list_instances() == []


@pytest.mark.parametrize(("specs", "properties", "os_type", "template"), [
    ({"os:secure_boot": "required"}, {}, "windows", "MicrosoftWindows"),
    ({}, {"os_secure_boot": "required", "os_type": "linux"}, None,
     "MicrosoftUEFICertificateAuthority"),
    ({}, {"os_secure_boot": "optional"}, None, "MicrosoftUEFICertificateAuthority"),
    ({"os:secure_boot": "disabled"}, {}, "windows", None),
])
def test_secure_boot_from_flavor_or_image(lab: Lab, specs: dict[str, str],
                                          properties: dict[str, str], os_type: str | None,
                                          template: str | None) -> None:
    instance = lab.instance(extra_specs=specs, os_type=os_type)
    lab.spawn(instance, properties)
    assert lab.vms.get(instance.name).secure_boot == template


def test_required_secure_boot_on_generation_1_is_refused_before_anything_is_made(
        lab: Lab) -> None:
    instance = lab.instance(extra_specs={"os:secure_boot": "required"})
    with pytest.raises(exception.ImageUnacceptable, match="secure boot needs a generation 2"):
        lab.spawn(instance, {"hw_machine_type": "hyperv-gen1"})
    assert lab.driver.list_instances() == []
    optional = lab.instance()
    lab.spawn(optional, {"hw_machine_type": "hyperv-gen1", "os_secure_boot": "optional"})
    assert lab.vms.get(optional.name).secure_boot is None


def test_a_vif_type_other_than_hyperv_is_refused_before_anything_is_made(lab: Lab) -> None:
    ovs = vif("ovs")
    with pytest.raises(exception.VirtualInterfacePlugException,
                       match=f"port {ovs['id']} has vif_type 'ovs'"):
        lab.spawn(lab.instance(), vifs=[vif(), ovs])
    assert lab.driver.list_instances() == []


def test_spawn_without_power_on_leaves_it_off(lab: Lab) -> None:
    instance = lab.instance()
    lab.spawn(instance, power_on=False)
    assert lab.driver.get_info(instance).state == power_state.SHUTDOWN


# -- power ----------------------------------------------------------------------------------
def test_power_operations_reach_the_host_states(lab: Lab) -> None:
    instance = lab.instance()
    lab.spawn(instance)
    state = lambda: lab.vms.get(instance.name).state  # noqa: E731

    lab.driver.power_off(instance)
    assert state() == PowerState.OFF
    lab.driver.power_on(None, instance, [])
    assert state() == PowerState.RUNNING
    lab.driver.power_off(instance, timeout=5)  # the guest shuts down
    assert state() == PowerState.OFF
    lab.driver.power_on(None, instance, [])
    lab.driver.pause(instance)
    assert (state(), lab.driver.get_info(instance).state) == (PowerState.PAUSED,
                                                              power_state.PAUSED)
    lab.driver.unpause(instance)
    assert state() == PowerState.RUNNING
    lab.driver.suspend(None, instance)
    assert (state(), lab.driver.get_info(instance).state) == (PowerState.SAVED,
                                                              power_state.SUSPENDED)
    lab.driver.resume(None, instance, [])
    assert state() == PowerState.RUNNING
    lab.driver.reboot(None, instance, [], "HARD")
    assert state() == PowerState.RUNNING
    lab.driver.reboot(None, instance, [], "SOFT")
    assert state() == PowerState.RUNNING


def test_a_guest_that_ignores_shutdown_is_turned_off_after_the_timeout(lab: Lab) -> None:
    instance = lab.instance()
    lab.spawn(instance)
    lab.host.faults.guest_ignores_shutdown = True
    lab.driver.power_off(instance, timeout=1)
    assert lab.vms.get(instance.name).state == PowerState.OFF


def test_operations_on_a_missing_vm_say_instance_not_found(lab: Lab) -> None:
    ghost = lab.instance()
    with pytest.raises(exception.InstanceNotFound):
        lab.driver.get_info(ghost)
    with pytest.raises(exception.InstanceNotFound):
        lab.driver.pause(ghost)
    assert lab.driver.instance_exists(ghost) is False


# -- network adapters -------------------------------------------------------------------------
def test_hot_plug_on_a_running_generation_2_vm(lab: Lab) -> None:
    instance = lab.instance()
    lab.spawn(instance)
    extra = vif()
    lab.driver.attach_interface(None, instance, None, extra)
    assert [nic.name for nic in lab.vnics.list_all(instance.name)] == [extra["id"]]
    lab.driver.detach_interface(None, instance, extra)
    assert lab.vnics.list_all(instance.name) == []
    lab.driver.detach_interface(None, instance, extra)  # gone already: fine


def test_hot_plug_on_a_running_generation_1_vm_is_refused(lab: Lab) -> None:
    instance = lab.instance()
    lab.spawn(instance, {"hw_machine_type": "hyperv-gen1"})
    with pytest.raises(exception.InterfaceAttachFailed):
        lab.driver.attach_interface(None, instance, None, vif())
    assert lab.vnics.list_all(instance.name) == []
    lab.driver.power_off(instance)
    lab.driver.attach_interface(None, instance, None, vif())  # off: allowed
    assert len(lab.vnics.list_all(instance.name)) == 1


# -- destroy -------------------------------------------------------------------------------
def test_destroy_removes_the_vm_and_is_idempotent(lab: Lab) -> None:
    instance = lab.instance()
    port = vif()
    lab.spawn(instance, vifs=[port])
    lab.driver.destroy(None, instance, [])
    assert lab.driver.list_instances() == []
    assert lab.vnics.list_all() == []
    lab.driver.destroy(None, instance, [])
    assert lab.driver.get_num_instances() == 0
