"""The demo: two VMs on an emulated Hyper-V host, their ports secured the
way a security group allowing SSH and ICMP would be, proved by packets.

Until the host library (``winstackers.hyperv``) exists the demo speaks CIM
directly; it is the emulator's showcase, not OpenStack code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from rich.console import Console
from rich.table import Table

from winstackers.cim import Instance, Reference, Session, call, connect, redact

T = TypeVar("T")
SUBNET = "10.0.0.0/24"
VLAN_ID = 101
ACL = "Msvm_EthernetSwitchPortExtendedAclSettingData"
IN, OUT, ALLOW, DENY = 1, 2, 1, 2


@dataclass
class DemoVM:
    """One VM of the demo and its port."""

    name: str
    ip: str
    vm: Reference | None = None
    nic: Reference | None = None
    connection: Reference | None = None
    mac: str = ""


class Demo:
    """The scenario, step by step, printing each step and its duration."""

    def __init__(self, session: Session, console: Console) -> None:
        self.session = session
        self.console = console
        self.vsms = self._path(self._one("Msvm_VirtualSystemManagementService"))
        self.switch_service = self._path(self._one("Msvm_VirtualEthernetSwitchManagementService"))
        self.switch: Reference | None = None
        self.vms = [DemoVM("demo-web-1", "10.0.0.11"), DemoVM("demo-web-2", "10.0.0.12")]

    def _one(self, class_name: str, where: str = "") -> Instance:
        found = self.session.query(f"SELECT * FROM {class_name}{where}")
        if not found:
            raise LookupError(f"the host has no {class_name}{where}")
        return found[0]

    @staticmethod
    def _path(instance: Instance) -> Reference:
        assert instance.path is not None
        return instance.path

    def _default(self, class_name: str) -> Instance:
        return self._one(class_name, r" WHERE InstanceID LIKE '%\\Default'")

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        """Print *text*, run the block, print how long it took."""
        started = time.perf_counter()
        self.console.print(f"[bold]>[/bold] {text} ...", end="")
        yield
        elapsed = (time.perf_counter() - started) * 1000
        self.console.print(f" [green]done[/green] ({elapsed:.1f} ms)")

    def _call(self, method: str, target: Reference | None = None, **params: Any) -> Any:
        return call(self.session, target or self.vsms, method, params)

    def create_switch(self) -> None:
        settings = self.session.new_instance("Msvm_VirtualEthernetSwitchSettingData",
                                             {"ElementName": "demo-physnet"})
        self.switch = self._call("DefineSystem", self.switch_service,
                                 SystemSettings=settings)["ResultingSystem"]

    def create_vm(self, vm: DemoVM) -> None:
        template = self._one("Msvm_VirtualSystemSettingData",
                             " WHERE ElementName = 'MicrosoftUEFICertificateAuthority'")
        settings = self.session.new_instance("Msvm_VirtualSystemSettingData", {
            "ElementName": vm.name, "VirtualSystemSubType": "Microsoft:Hyper-V:SubType:2",
            "SecureBootEnabled": True,
            "SecureBootTemplateId": template["SecureBootTemplateId"]})
        vm.vm = self._call("DefineSystem", SystemSettings=settings)["ResultingSystem"]

    def _vssd(self, vm: DemoVM) -> Reference:
        assert vm.vm is not None
        found = self.session.associators(vm.vm, assoc_class="Msvm_SettingsDefineState")
        path = found[0].path
        assert path is not None
        return path

    def plug(self, vm: DemoVM) -> None:
        nic = self._default("Msvm_SyntheticEthernetPortSettingData").replace(
            ElementName=f"{vm.name}-port")
        vm.nic = self._call("AddResourceSettings", AffectedConfiguration=self._vssd(vm),
                            ResourceSettings=[nic])["ResultingResourceSettings"][0]
        assert self.switch is not None and vm.nic is not None
        connection = self._default("Msvm_EthernetPortAllocationSettingData").replace(
            Parent=vm.nic.path, HostResource=[self.switch.path])
        vm.connection = self._call("AddResourceSettings", AffectedConfiguration=self._vssd(vm),
                                   ResourceSettings=[connection])["ResultingResourceSettings"][0]
        vm.mac = self.session.get(vm.nic)["Address"]

    def secure(self, vm: DemoVM) -> None:
        """VLAN, no MAC spoofing and a security group as extended ACLs, in
        one AddFeatureSettings call."""
        features = [
            self._default("Msvm_EthernetSwitchPortVlanSettingData").replace(
                OperationMode=1, AccessVlanId=VLAN_ID),
            self._default("Msvm_EthernetSwitchPortSecuritySettingData").replace(
                AllowMacSpoofing=False),
            self._acl("default deny in", IN, DENY, 1),
            self._acl("default deny out", OUT, DENY, 1),
            self._acl("ssh from subnet", IN, ALLOW, 100, Protocol="TCP", LocalPort="22",
                      RemoteIPAddress=SUBNET, Stateful=True),
            self._acl("icmp from subnet", IN, ALLOW, 99, Protocol="1", RemoteIPAddress=SUBNET),
            self._acl("egress from own ip", OUT, ALLOW, 100, LocalIPAddress=f"{vm.ip}/32"),
        ]
        self._call("AddFeatureSettings", AffectedConfiguration=vm.connection,
                   FeatureSettings=features)

    def _acl(self, name: str, direction: int, action: int, weight: int, **more: Any) -> Instance:
        return self._default(ACL).replace(Name=name, Direction=direction, Action=action,
                                          Weight=weight, **more)

    def start(self, vm: DemoVM) -> None:
        assert vm.vm is not None
        self._call("RequestStateChange", vm.vm, RequestedState=2)

    def teardown(self) -> None:
        for vm in self.vms:
            if vm.vm is None:
                continue
            if self.session.get(vm.vm)["EnabledState"] != 3:
                self._call("RequestStateChange", vm.vm, RequestedState=3)
            self._call("DestroySystem", AffectedSystem=vm.vm)
        if self.switch is not None:
            self._call("DestroySystem", self.switch_service, AffectedSystem=self.switch)


def _ports_table(demo: Demo) -> Table:
    table = Table(title="Ports on the emulated host")
    for column in ("VM", "state", "MAC", "vSwitch", "VLAN", "ACLs"):
        table.add_column(column)
    for vm in demo.vms:
        assert vm.vm is not None and vm.connection is not None
        features = demo.session.associators(
            vm.connection, assoc_class="Msvm_EthernetPortSettingDataComponent")
        vlan = [f["AccessVlanId"] for f in features
                if f.class_name == "Msvm_EthernetSwitchPortVlanSettingData"]
        acls = [f for f in features if f.class_name == ACL]
        state = {2: "running", 3: "off"}.get(demo.session.get(vm.vm)["EnabledState"], "?")
        switch = demo.session.get(vm.connection)["LastKnownSwitchName"]
        table.add_row(vm.name, state, vm.mac, switch,
                      str(vlan[0]) if vlan else "-", str(len(acls)))
    return table


def _packet_checks(demo: Demo) -> tuple[Table, bool]:
    from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND, Packet

    host = getattr(demo.session, "emulated_host", None)
    table = Table(title="Packets through the ports' ACLs")
    for column in ("check", "verdict", "decided by", "expected"):
        table.add_column(column)
    if host is None:
        return table, True
    one, two = demo.vms
    checks = [
        ("SSH from web-2 leaves web-2", f"{two.name}-port",
         Packet(OUTBOUND, "tcp", two.ip, one.ip, 40001, 22), True),
        ("SSH from web-2 reaches web-1", f"{one.name}-port",
         Packet(INBOUND, "tcp", one.ip, two.ip, 22, 40001), True),
        ("ping from web-2 reaches web-1", f"{one.name}-port",
         Packet(INBOUND, "icmp", one.ip, two.ip), True),
        ("SMTP (25) to web-1 is refused", f"{one.name}-port",
         Packet(INBOUND, "tcp", one.ip, two.ip, 25, 40002), False),
        ("SSH from outside the subnet is refused", f"{one.name}-port",
         Packet(INBOUND, "tcp", one.ip, "192.0.2.50", 22, 40003), False),
        ("web-2 spoofing 10.0.0.99 is refused", f"{two.name}-port",
         Packet(OUTBOUND, "tcp", "10.0.0.99", one.ip, 40004, 22), False),
    ]
    ok = True
    for text, port, packet, expected in checks:
        verdict = host.evaluate_packet(port, packet)
        ok &= verdict.allowed == expected
        table.add_row(text, "[green]allow[/green]" if verdict.allowed else "[red]deny[/red]",
                      verdict.reason, "allow" if expected else "deny")
    return table, ok


def _timed(demo: Demo, text: str, action: Callable[[], T]) -> T:
    with demo.step(text):
        return action()


def run(url: str, *, keep: bool = False) -> int:
    """Run the demo against the host at *url*; returns the exit status."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=110)
    console.print(f"[bold]Winstackers demo[/bold] on host {redact(url)}")
    session = connect(url)
    started = time.perf_counter()
    demo = Demo(session, console)
    try:
        _timed(demo, "create vSwitch demo-physnet", demo.create_switch)
        for vm in demo.vms:
            _timed(demo, f"define Gen2 VM {vm.name} with secure boot (UEFI CA template)",
                   partial(demo.create_vm, vm))
            _timed(demo, f"add a vNIC to {vm.name} and connect it", partial(demo.plug, vm))
            _timed(demo, f"set VLAN {VLAN_ID}, anti-spoofing and 5 ACLs in one call",
                   partial(demo.secure, vm))
            _timed(demo, f"start {vm.name}", partial(demo.start, vm))
        console.print(_ports_table(demo))
        packets, ok = _packet_checks(demo)
        console.print(packets)
        _print_counters(console, session)
    finally:
        if not keep:
            _timed(demo, "tear down (turn off, destroy VMs and vSwitch)", demo.teardown)
    console.print(f"total {time.perf_counter() - started:.2f} s: "
                  + ("[green]all checks passed[/green]" if ok else "[red]a check failed[/red]"))
    return 0 if ok else 1


def _print_counters(console: Console, session: Session) -> None:
    host = getattr(session, "emulated_host", None)
    if host is not None:
        counts = host.counters
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.by_operation().items()))
        console.print(f"CIM calls so far: {counts.reads} reads, {counts.writes} writes ({detail})")
