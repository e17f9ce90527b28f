"""``winstackers demo``: neutron on an emulated Hyper-V host, end to end.

What runs (all on this machine, nothing to configure):

- an emulated Hyper-V host served over WS-Management (HTTPS, in this
  process: :mod:`winstackers.emulator.wsman`);
- neutron-server 29 (API under uwsgi, and neutron-rpc-server) with the
  ``hyperv`` mechanism driver, on a fresh MariaDB database and RabbitMQ
  vhost (:mod:`winstackers.neutron.fixtures`);
- ``neutron-hyperv-agent`` as a real process, managing the host remotely.

The scenario, through neutron's REST API and the host library (as nova
would plug a VM): a vlan network and subnet, a security group allowing SSH
and ICMP from the subnet, two ports bound to the agent's host, two
generation 2 VMs with secure boot and a vNIC each named after its port;
then it waits for neutron to say ACTIVE and shows what the agent did: a
table of ports (neutron status, host vSwitch, VLAN, ACL count) and packets
judged by the emulated host's evaluation of the ports' extended ACLs.

Without ``--keep`` everything is stopped and removed at the end.  With it,
the stack runs on in a background process (its files in ``--state-dir``):
the demo prints how to reach neutron's API, and ``winstackers demo stop``
stops it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from rich.console import Console
from rich.table import Table

T = TypeVar("T")

PHYSNET, VSWITCH = "physnet1", "vSwitch-physnet1"
CIDR = "10.0.0.0/24"
OUTSIDE = "192.0.2.50"
SPOOFED = "10.0.0.99"
VMS = (("demo-web-1", "10.0.0.11"), ("demo-web-2", "10.0.0.12"))
#: Seconds to wait for the ports to become ACTIVE.
ACTIVE_TIMEOUT = 60.0
#: What the background stack writes once the scenario is done.
READY_FILE = "demo.json"
OUTPUT_FILE = "demo.out"
#: The emulated host's (random) password, readable by the user only.
PASSWORD_FILE = "host.password"


class DemoError(Exception):
    """Why the demo cannot run or did not finish (the message says what to do)."""


def default_state_dir() -> Path:
    """Where a kept demo keeps its files: one per user."""
    return Path(tempfile.gettempdir()) / f"winstackers-demo-{os.getuid()}"


def prerequisites() -> None:
    """Check what the demo needs before starting anything.

    :raises DemoError: naming what is missing and how to get it.
    """
    try:
        from winstackers.neutron import fixtures as nf
        from winstackers.neutron.fixtures.agents import hyperv_agent_missing
    except ImportError as exc:
        raise DemoError(f"the neutron extra is not installed ({exc}); run tools/setup.sh "
                        "or pip install -e '.[neutron]'") from None
    for service, reason in (("MariaDB", nf.mariadb.unreachable_reason()),
                            ("RabbitMQ", nf.rabbitmq.unreachable_reason())):
        if reason:
            raise DemoError(f"{service} is not usable: {reason}; tools/setup.sh installs "
                            "and starts it")
    missing = hyperv_agent_missing()
    if missing:
        raise DemoError(f"{missing}; run tools/setup.sh")


@dataclass
class Stack:
    """The running pieces."""

    host: Any  # EmulatedHost
    server: Any  # NeutronServer
    agent: Any  # AgentProcess
    session: Any  # a Session on the host, in-process
    host_url: str  # where the agent reaches the host (no password)
    host_password: str


@contextmanager
def stack(workdir: Path, console: Console) -> Iterator[Stack]:
    """Start the emulated host, neutron-server and the agent; stop them on exit."""
    from winstackers.cim import redact
    from winstackers.cim.transports.emulated import EmulatedSession
    from winstackers.emulator.hyperv.config import HostConfig
    from winstackers.emulator.hyperv.host import EmulatedHost
    from winstackers.emulator.wsman.fixtures import served_host
    from winstackers.neutron import fixtures as nf

    host = EmulatedHost(HostConfig())
    with ExitStack() as stop:
        served = timed(console, "serve an emulated Hyper-V host over WS-Management (HTTPS)",
                       lambda: stop.enter_context(served_host(host)))
        console.print(f"  host: {served.server.url}")
        server = timed(console, "start neutron-server 29 (uwsgi API + RPC server) with "
                       "mechanism_drivers = hyperv",
                       lambda: stop.enter_context(nf.neutron_server(
                           nf.NeutronOptions(), workdir=workdir / "neutron",
                           name=f"winstackers_demo_{os.getpid()}")))
        console.print(f"  neutron API: {server.url}  (logs in {workdir / 'neutron'})")
        sections = {"AGENT": {"physical_network_vswitch_mappings": f"{PHYSNET}:{VSWITCH}",
                              "polling_interval": "1", "report_interval": "5"},
                    "hyperv_host": {"url": served.url, "password": served.password}}
        agent = timed(console, "start neutron-hyperv-agent and wait until neutron lists it alive",
                      lambda: stop.enter_context(nf.hyperv_agent(server, "hv-demo", sections)))
        session = EmulatedSession(host)
        stop.callback(session.close)
        yield Stack(host, server, agent, session, redact(served.url), served.password)
        console.print("[bold]>[/bold] tear down: agent, neutron-server, database, vhost, host")


def timed(console: Console, text: str, action: Callable[[], T]) -> T:
    """Print *text*, run *action*, print how long it took."""
    started = time.perf_counter()
    console.print(f"[bold]>[/bold] {text} ...")
    result = action()
    console.print(f"  [green]done[/green] ({time.perf_counter() - started:.1f} s)")
    return result


@dataclass
class DemoPort:
    """One VM of the scenario and its neutron port."""

    vm: str
    ip: str
    port: dict[str, Any]

    @property
    def id(self) -> str:
        port_id: str = self.port["id"]
        return port_id


def scenario(run: Stack, console: Console) -> bool:
    """Walk the scenario on *run*; whether every check passed."""
    from winstackers.hyperv.vms import VMs
    from winstackers.hyperv.vmstate import VMSpec
    from winstackers.hyperv.vnics import VNics

    client = run.server.client
    network = timed(console, f"create a vlan network on {PHYSNET} and subnet {CIDR}",
                    lambda: _network(client))
    group = timed(console, "create security group demo-web: SSH and ICMP from the subnet",
                  lambda: _group(client))
    ports = timed(console, f"create {len(VMS)} ports bound to host {run.agent.host}",
                  lambda: [DemoPort(vm, ip, _port(client, network, group, run.agent.host, ip))
                           for vm, ip in VMS])
    vms, vnics = VMs(run.session), VNics(run.session)

    def plug() -> None:
        for demo in ports:
            vms.ensure(VMSpec(demo.vm, memory_mb=512,
                              secure_boot="MicrosoftUEFICertificateAuthority"))
            vnics.add(demo.vm, demo.id, mac=demo.port["mac_address"])
            vms.start(demo.vm)

    timed(console, "define 2 Gen2 VMs with secure boot, a vNIC each named after its port, "
          "start them", plug)
    timed(console, "wait until neutron reports both ports ACTIVE",
          lambda: _wait_active(client, [p.id for p in ports]))
    console.print(_ports_table(run, ports))
    table, ok = _packet_checks(run, ports)
    console.print(table)
    counters = run.host.counters
    console.print(f"host calls: {counters.reads} reads, {counters.writes} writes")
    return ok


def _network(client: Any) -> dict[str, Any]:
    network: dict[str, Any] = client.create("networks", **{
        "name": "demo-net", "provider:network_type": "vlan",
        "provider:physical_network": PHYSNET})
    client.create("subnets", network_id=network["id"], ip_version=4, cidr=CIDR,
                  enable_dhcp=False, name="demo-subnet")
    return network


def _group(client: Any) -> dict[str, Any]:
    group: dict[str, Any] = client.request("POST", "security-groups", {
        "security_group": {"name": "demo-web"}})["security_group"]
    for rule in ({"protocol": "tcp", "port_range_min": 22, "port_range_max": 22},
                 {"protocol": "icmp"}):
        client.request("POST", "security-group-rules", {"security_group_rule": {
            "security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv4",
            "remote_ip_prefix": CIDR, **rule}})
    return group


def _port(client: Any, network: dict[str, Any], group: dict[str, Any], host: str,
          ip: str) -> dict[str, Any]:
    port: dict[str, Any] = client.create(
        "ports", network_id=network["id"], security_groups=[group["id"]],
        fixed_ips=[{"ip_address": ip}], device_owner="compute:nova",
        **{"binding:host_id": host})
    if port["binding:vif_type"] != "hyperv":
        raise DemoError(f"port {port['id']} was not bound by the hyperv driver "
                        f"(binding:vif_type {port['binding:vif_type']!r})")
    return port


def _wait_active(client: Any, port_ids: list[str]) -> None:
    deadline = time.monotonic() + ACTIVE_TIMEOUT
    while True:
        status = {pid: client.show("ports", pid)["status"] for pid in port_ids}
        if all(s == "ACTIVE" for s in status.values()):
            return
        if time.monotonic() > deadline:
            raise DemoError(f"ports not ACTIVE after {ACTIVE_TIMEOUT:.0f} s: {status}; "
                            "see the agent's log")
        time.sleep(0.3)


def _ports_table(run: Stack, ports: list[DemoPort]) -> Table:
    from winstackers.hyperv.ports import SwitchPorts

    table = Table(title="Ports: what neutron says and what the host has")
    for column in ("VM", "neutron port", "status", "IP", "vSwitch", "VLAN", "ACLs",
                   "MAC spoofing"):
        table.add_column(column)
    states = SwitchPorts(run.session).read_all()
    for demo in ports:
        status = run.server.client.show("ports", demo.id)["status"]
        state = states[demo.id]
        vlan = state.vlan.access_id if state.vlan.access_id else "untagged"
        table.add_row(demo.vm, demo.id, status, demo.ip, state.switch or "-", str(vlan),
                      str(len(state.acls)), "allowed" if state.allow_mac_spoofing else "blocked")
    return table


def _packet_checks(run: Stack, ports: list[DemoPort]) -> tuple[Table, bool]:
    from winstackers.emulator.hyperv.packets import INBOUND, OUTBOUND, Packet

    one, two = ports
    checks = [
        ("SSH from web-2 leaves web-2", two, Packet(OUTBOUND, "tcp", two.ip, one.ip, 40001, 22),
         True),
        ("SSH from web-2 reaches web-1", one, Packet(INBOUND, "tcp", one.ip, two.ip, 22, 40001),
         True),
        ("ping from web-2 reaches web-1", one, Packet(INBOUND, "icmp", one.ip, two.ip), True),
        ("SMTP (25) to web-1 is refused", one,
         Packet(INBOUND, "tcp", one.ip, two.ip, 25, 40002), False),
        ("SSH from outside the subnet is refused", one,
         Packet(INBOUND, "tcp", one.ip, OUTSIDE, 22, 40003), False),
        (f"web-2 spoofing {SPOOFED} is refused", two,
         Packet(OUTBOUND, "tcp", SPOOFED, one.ip, 40004, 22), False),
    ]
    table = Table(title="Packets through the ports' ACLs, as the host evaluates them")
    for column in ("check", "verdict", "decided by", "expected"):
        table.add_column(column)
    ok = True
    for text, port, packet, expected in checks:
        verdict = run.host.evaluate_packet(port.id, packet)
        ok &= verdict.allowed == expected
        table.add_row(text, "[green]allow[/green]" if verdict.allowed else "[red]deny[/red]",
                      verdict.reason, "allow" if expected else "deny")
    return table, ok


def _console(out: IO[str] | None = None) -> Console:
    console = Console(file=out) if out is not None else Console()
    return console if console.is_terminal else Console(file=out, width=120)


# -- the commands ---------------------------------------------------------------------
def run(*, keep: bool = False, state_dir: Path | None = None) -> int:
    """``winstackers demo [--keep]``; returns the exit status."""
    state_dir = state_dir or default_state_dir()
    console = _console()
    try:
        prerequisites()
        if keep:
            return _start_kept(state_dir, console)
        with tempfile.TemporaryDirectory(prefix="winstackers-demo-") as folder:
            return _walk(Path(folder), console)
    except DemoError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        return 1


def _walk(workdir: Path, console: Console,
          on_ready: Callable[[Stack, bool], None] | None = None,
          hold: threading.Event | None = None) -> int:
    from winstackers.neutron.fixtures import FixtureError

    console.print("[bold]Winstackers demo[/bold]: neutron 29 on an emulated Hyper-V host")
    started = time.perf_counter()
    try:
        with stack(workdir, console) as running:
            ok = scenario(running, console)
            console.print(f"scenario done in {time.perf_counter() - started:.1f} s: "
                          + ("[green]all checks passed[/green]" if ok
                             else "[red]a check failed[/red]"))
            if on_ready is not None:
                on_ready(running, ok)
            if hold is not None:
                hold.wait()
    except FixtureError as exc:
        raise DemoError(str(exc)) from None
    return 0 if ok else 1


def _start_kept(state_dir: Path, console: Console) -> int:
    """Run the stack in a background process; follow its output until the
    scenario is done, then say how to reach and stop it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    running = kept_state(state_dir)
    if running is not None:
        raise DemoError(f"a demo is already running (pid {running['pid']}, neutron API "
                        f"{running['neutron_api']}); stop it with: winstackers demo stop")
    (state_dir / READY_FILE).unlink(missing_ok=True)
    output = state_dir / OUTPUT_FILE
    with output.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "winstackers.cli.main", "demo", "--serve",
             "--state-dir", str(state_dir)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    shown = _follow(output, child, state_dir)
    if child.poll() is not None:
        sys.stdout.write(output.read_text()[shown:])
        return child.returncode or 1
    state = json.loads((state_dir / READY_FILE).read_text())
    console.print(f"\nThe stack keeps running (pid {state['pid']}; files in {state_dir}).\n"
                  f"  neutron API (no auth): {state['neutron_api']}/v2.0/ports\n"
                  f"  try: curl -s {state['neutron_api']}/v2.0/ports | python3 -m json.tool\n"
                  f"  emulated host (WS-Management): {state['host']}\n"
                  f"    its password: in {state['host_password_file']}\n"
                  f"  agent log: {state['agent_log']}\n"
                  "Stop it with: winstackers demo stop")
    return 0 if state["ok"] else 1


def _follow(output: Path, child: subprocess.Popen[bytes], state_dir: Path) -> int:
    """Copy the background demo's output until it is ready or exits; how
    many characters were shown."""
    shown = 0
    while True:
        text = output.read_text()
        sys.stdout.write(text[shown:])
        sys.stdout.flush()
        shown = len(text)
        if (state_dir / READY_FILE).exists() or child.poll() is not None:
            return shown
        time.sleep(0.2)


def serve(state_dir: Path) -> int:
    """The background process of ``--keep``: run the scenario, write the
    ready file, hold the stack until SIGTERM."""
    hold = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: hold.set())
    console = _console(sys.stdout)

    def ready(running: Stack, ok: bool) -> None:
        secret = state_dir / PASSWORD_FILE
        secret.touch(mode=0o600)
        secret.write_text(running.host_password)
        state = {"pid": os.getpid(), "neutron_api": running.server.url,
                 "host": running.host_url, "host_password_file": str(secret),
                 "agent_log": str(running.agent.process.log), "ok": ok}
        sys.stdout.flush()
        partial = state_dir / (READY_FILE + ".new")
        partial.write_text(json.dumps(state))
        partial.replace(state_dir / READY_FILE)

    try:
        status = _walk(state_dir, console, ready, hold)
    except DemoError as exc:
        console.print(f"[red]demo failed:[/red] {exc}")
        status = 1
    finally:
        (state_dir / READY_FILE).unlink(missing_ok=True)
        (state_dir / PASSWORD_FILE).unlink(missing_ok=True)
    return status


def kept_state(state_dir: Path) -> dict[str, Any] | None:
    """The state of a kept demo that is still running, or None."""
    path = state_dir / READY_FILE
    try:
        state: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def stop(state_dir: Path | None = None, timeout: float = 60.0) -> int:
    """``winstackers demo stop``: stop a kept demo; returns the exit status."""
    state_dir = state_dir or default_state_dir()
    state = kept_state(state_dir)
    if state is None:
        print(f"no demo is running (nothing in {state_dir})")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            print(f"demo stopped (pid {pid}); neutron-server, the agent, the database and "
                  "the vhost are gone")
            return 0
        time.sleep(0.2)
    print(f"the demo (pid {pid}) did not stop within {timeout:.0f} s; see "
          f"{state_dir / OUTPUT_FILE}", file=sys.stderr)
    return 1
