"""``winstackers host show``: what a Hyper-V host has, as tables or JSON.

::

    winstackers host show --url emulator:///tmp/host.json
    WINSTACKERS_HOST_PASSWORD=... winstackers host show \\
        --url 'https://admin@hv01.example.com:5986/wsman?auth=ntlm'
    winstackers host show --config-file neutron.conf --config-file hyperv_agent.ini
    winstackers host show --url local:// --json
    winstackers host show --url ... --port PORT_ID          # one port
    winstackers host show --url ... --port PORT_ID --acls   # its ACL rules

The host is reached as :func:`winstackers.cim.connect` reaches it, from
``--url`` or from the agent's own ini files (``--config-file``, repeatable:
``[hyperv_host] url`` and ``password``, later files winning, as
oslo.config reads them).  The password comes from the environment variable
``WINSTACKERS_HOST_PASSWORD`` (which wins, as an environment value wins over
files in oslo.config) or from ``[hyperv_host] password``; never from the
command line, where other users could read it.  It is never printed: the
URL shown is :func:`winstackers.cim.redact`'s.

Why the ini files are read here with :mod:`configparser` and not through
the agent's option definitions (:mod:`winstackers.neutron.agent.config`):
that module imports neutron when it is imported, its options need
oslo.config, which a plain ``pip install winstackers`` does not have (it
comes with the ``[neutron]`` extra), and the CLI sits below the neutron
layer.  The parser follows oslo.config's ini rules for the two values read:
group names case-insensitive, option names case-sensitive, no inline
comments, ``[DEFAULT]`` an ordinary section, one pair of surrounding quotes
removed, indented lines continuing a value, the last file (and the last
assignment) winning, ``$$`` and ``\\$`` a literal ``$``.  A ``$name``
substitution of another option is refused, naming the option.

Everything is read through the host library (:mod:`winstackers.hyperv`) in
a constant number of host calls whatever the number of VMs and ports:
:func:`~winstackers.hyperv.hostinfo.read_host_info`,
:meth:`VMs.list_all <winstackers.hyperv.vms.VMs.list_all>`,
:meth:`VNics.list_all <winstackers.hyperv.vnics.VNics.list_all>` and
:meth:`SwitchPorts.read_all <winstackers.hyperv.ports.SwitchPorts.read_all>`
(25 queries on the emulated host, 24 when no VM has secure boot; asserted
in ``tests/cli/test_host_show.py``).  ``--port ID`` reads one port with 8
calls, ``--port ID --acls`` with 4.  Nothing is written.

Tables are drawn with rich.  On a terminal they fit its width; when the
output is a pipe or a file they are drawn at their natural width, so a row
never wraps (``| grep`` sees whole rows).

``--json`` prints one JSON document with these keys (stable; ``null``
where a part is not set):

overview
    ``host``: ``name``, ``url`` (redacted), ``os_caption``,
    ``os_version``, ``os_build``, ``logical_processors``,
    ``memory_total_mb``, ``memory_free_mb``, ``iov_supported``;
    ``vswitches``: a list of ``name``, ``id``, ``type`` (``external``,
    ``internal``, ``private``), ``uplink``, ``iov_enabled``,
    ``iov_capable``; ``vms``: a list of ``name``, ``id``, ``state``
    (``running``, ``off``, ``saved``, ``paused``, ``starting``,
    ``shutting_down``, ``unknown``), ``generation``, ``secure_boot`` (the
    template name, or null when off), ``memory_mb``, ``dynamic_memory``
    (null or ``minimum_mb``, ``maximum_mb``, ``buffer_percent``),
    ``vcpus``, ``instance_id``; ``ports``: a list of port objects.
a port object (one per vNIC, named after it: the neutron port id)
    ``name``, ``mac``, ``vm`` (its VM's name), ``vm_id``, ``vswitch``
    (null when not connected), ``vlan`` (``mode``: ``untagged``,
    ``access`` or ``trunk``; ``access_id``, ``native_id``, ``allowed``),
    ``acl_count``, ``allow_mac_spoofing``, ``dhcp_guard``,
    ``router_guard``, ``sriov`` (null or ``offload_weight``,
    ``queue_pairs``), ``bandwidth`` (null or ``limit_bps``,
    ``burst_limit_bps``, ``burst_size_bytes``, ``reservation_bps``; bits
    per second), ``profile`` (null or ``profile_id``, ``profile_data``,
    ``profile_name``, ``vendor_id``, ``vendor_name``).
``--port ID``
    ``{"port": <port object>}``.
``--port ID --acls``
    ``{"port": ID, "acls": [...]}``, each rule with ``direction``
    (``in``/``out``, from the VM's side), ``weight``, ``action``
    (``allow``/``deny``), ``protocol``, ``local_address``,
    ``local_ports``, ``remote_address``, ``remote_ports``, ``stateful``,
    ``idle_timeout``, ``name``; sorted by direction (``in`` first), then
    in the order Hyper-V applies them (larger weight first).

Exit status: 0; 1 when the host or a value is wrong (an unknown port id,
a bad URL or config file, a host that cannot be reached), with a message
naming it, as every ``winstackers`` command does; 2 for a usage error
(argparse's).
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from winstackers.cim import Session, connect, redact
from winstackers.cim.errors import InvalidParameter
from winstackers.hyperv.errors import VMNotFound
from winstackers.hyperv.hostinfo import HostInfo, SwitchInfo, read_host_info
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import ACCESS, TRUNK, AclRule, PortState
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import VMInfo
from winstackers.hyperv.vnics import VNicInfo, VNics

PASSWORD_VARIABLE = "WINSTACKERS_HOST_PASSWORD"
HOST_GROUP = "hyperv_host"
#: Width of tables written to a pipe or a file: wide enough never to wrap.
PIPE_WIDTH = 10_000
#: A ``$name`` or ``${name}`` reference, as oslo.config's string.Template finds it.
_REFERENCE = re.compile(r"\$(\{[_a-z][._a-z0-9]*\}|[_a-z][._a-z0-9]*)", re.IGNORECASE)


# -- the command line -----------------------------------------------------------------------
def add_parser(commands: Any) -> None:
    """Add the ``show`` subcommand to the ``host`` subcommands."""
    what = "show a Hyper-V host's vSwitches, VMs and switch ports"
    parser = commands.add_parser("show", help=what, description=what[0].upper() + what[1:])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="host URL, as the agent's [hyperv_host] url: "
                       "emulator://, emulator:///state.json, "
                       "https://USER@HOST:5986/wsman?auth=ntlm, local://")
    where.add_argument("--config-file", action="append", metavar="FILE",
                       help="the agent's ini file(s) holding [hyperv_host] url and password "
                            "(repeatable; later files win)")
    parser.add_argument("--port", metavar="ID", help="show this port (its vNIC's name) only")
    parser.add_argument("--acls", action="store_true",
                        help="with --port: list the port's ACL rules")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")


def run(args: argparse.Namespace, environ: Mapping[str, str] | None = None,
        out: IO[str] | None = None) -> int:
    """Show the host *args* name; returns the exit status.

    :raises CimError: naming what is wrong (the host, the URL, a config
        file, an unknown port).
    """
    if args.acls and not args.port:
        print("winstackers host show: --acls needs --port ID", file=sys.stderr)
        return 2
    settings = host_settings(args.url, args.config_file,
                             os.environ if environ is None else environ)
    out = sys.stdout if out is None else out
    session = connect(settings.url, password=settings.password)
    try:
        if args.port and args.acls:
            rules = read_acls(session, args.port)
            if args.json:
                _dump({"port": args.port, "acls": [acl_json(r) for r in rules]}, out)
            else:
                _print(out, acl_table(args.port, rules))
        elif args.port:
            port = read_port(session, args.port)
            if args.json:
                _dump({"port": port_json(port)}, out)
            else:
                _print(out, ports_table([port], title=f"Port {args.port}"))
        else:
            overview = read_overview(session, redact(settings.url))
            if args.json:
                _dump(overview_json(overview), out)
            else:
                _print(out, *overview_renderables(overview))
    finally:
        session.close()
    return 0


# -- host settings --------------------------------------------------------------------------
@dataclass(frozen=True)
class HostSettings:
    """How to reach the host: its URL and the password of the URL's user."""

    url: str
    password: str | None

    def __repr__(self) -> str:
        return f"HostSettings(url={redact(self.url)!r}, password=***)"


def host_settings(url: str | None, config_files: Sequence[str] | None,
                  environ: Mapping[str, str]) -> HostSettings:
    """The URL (from *url* or the ``[hyperv_host]`` section of
    *config_files*) and the password (``WINSTACKERS_HOST_PASSWORD``, else
    the files').

    :raises InvalidParameter: naming the file or option that is wrong.
    """
    password: str | None = None
    if config_files:
        url, password = read_host_options(config_files)
        if not url:
            raise InvalidParameter(where=f"[{HOST_GROUP}] url", detail="not set in "
                                   + ", ".join(config_files))
    assert url is not None  # argparse requires --url or --config-file
    return HostSettings(url, environ.get(PASSWORD_VARIABLE) or password or None)


def read_host_options(paths: Iterable[str]) -> tuple[str | None, str | None]:
    """``[hyperv_host] url`` and ``password`` from oslo.config-style ini
    files (see the module documentation for the rules followed).

    :raises InvalidParameter: naming a file that cannot be read or parsed,
        or an option using ``$`` substitution.
    """
    found: dict[str, str] = {}
    for path in paths:
        parser = configparser.ConfigParser(
            interpolation=None, strict=False, default_section="\0 no default section",
            comment_prefixes=("#", ";"), inline_comment_prefixes=None,
            empty_lines_in_values=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle, source=path)
        except OSError as exc:
            raise InvalidParameter(where=f"--config-file {path}",
                                   detail=exc.strerror or type(exc).__name__) from None
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise InvalidParameter(where=f"--config-file {path}",
                                   detail=_parse_error(exc)) from None
        for section in parser.sections():
            if section.lower() == HOST_GROUP:
                for key in ("url", "password"):
                    if parser.has_option(section, key):
                        found[key] = _unquote(parser.get(section, key, raw=True))
    return (_literal("url", found["url"]) if "url" in found else None,
            _literal("password", found["password"]) if "password" in found else None)


def _parse_error(exc: Exception) -> str:
    """What is wrong with a file, without quoting its lines (a line may
    hold the password)."""
    line = getattr(exc, "lineno", None)
    kind = type(exc).__name__
    return f"cannot parse it ({kind} at line {line})" if line else f"cannot parse it ({kind})"


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _literal(option: str, value: str) -> str:
    """*value* with oslo.config's ``$`` escapes resolved.

    :raises InvalidParameter: for a ``$name`` reference to another option.
    """
    text = value.replace("\\$", "$$")
    if _REFERENCE.search(text.replace("$$", "")):
        raise InvalidParameter(where=f"[{HOST_GROUP}] {option}", detail=(
            "refers to another option with $; winstackers host show does not resolve "
            "references (write $$ for a literal $)"))
    return text.replace("$$", "$")


# -- reading the host -----------------------------------------------------------------------
@dataclass(frozen=True)
class PortView:
    """One port: its vNIC, the VM it belongs to, and its settings."""

    nic: VNicInfo
    vm: str | None
    state: PortState


@dataclass(frozen=True)
class Overview:
    """Everything ``host show`` prints about a host."""

    url: str
    host: HostInfo
    vms: list[VMInfo]
    ports: list[PortView]


def _guid(text: str) -> str:
    return text.strip("{}").upper()


def read_overview(session: Session, url: str) -> Overview:
    """The host's facts, VMs, vNICs and ports, in a constant number of
    host calls whatever their number.

    :raises CimError: as the host library's reads do.
    """
    host = read_host_info(session)
    vms = VMs(session).list_all()
    nics = VNics(session).list_all()
    states = SwitchPorts(session).read_all()
    names = {_guid(vm.vm_id): vm.name for vm in vms}
    ports = [PortView(nic, names.get(_guid(nic.vm_id)), states.get(nic.name, PortState(None)))
             for nic in nics]
    return Overview(url, host, vms, ports)


def read_port(session: Session, port: str) -> PortView:
    """One port, its vNIC and its VM.

    :raises PortNotFound: naming the port.
    """
    state = SwitchPorts(session).read(port)
    nic = VNics(session).get(port)
    try:
        vm: str | None = VMs(session).get_by_id(nic.vm_id).name
    except VMNotFound:
        vm = None
    return PortView(nic, vm, state)


def read_acls(session: Session, port: str) -> list[AclRule]:
    """The ACL rules of *port*, by direction (``in`` first), then in the
    order Hyper-V applies them (larger weight first).

    :raises PortNotFound: naming the port.
    """
    rules = SwitchPorts(session).read(port).acls
    return sorted(rules, key=lambda r: (r.direction, -r.weight))


# -- JSON -----------------------------------------------------------------------------------
def overview_json(overview: Overview) -> dict[str, Any]:
    """The overview as the JSON document the module documentation describes."""
    host = overview.host
    return {
        "host": {"name": host.name, "url": overview.url, "os_caption": host.os_caption,
                 "os_version": host.os_version, "os_build": host.os_build,
                 "logical_processors": host.logical_processors,
                 "memory_total_mb": host.memory_total_mb,
                 "memory_free_mb": host.memory_free_mb, "iov_supported": host.iov_supported},
        "vswitches": [switch_json(s) for s in host.switches],
        "vms": [vm_json(vm) for vm in overview.vms],
        "ports": [port_json(p) for p in overview.ports],
    }


def switch_json(switch: SwitchInfo) -> dict[str, Any]:
    """One vSwitch as JSON."""
    return {"name": switch.name, "id": switch.id, "type": switch.type, "uplink": switch.uplink,
            "iov_enabled": switch.iov_enabled, "iov_capable": switch.iov_capable}


def vm_json(vm: VMInfo) -> dict[str, Any]:
    """One VM as JSON."""
    memory = vm.dynamic_memory
    return {"name": vm.name, "id": vm.vm_id, "state": vm.state.name.lower(),
            "generation": vm.generation, "secure_boot": vm.secure_boot,
            "memory_mb": vm.memory_mb,
            "dynamic_memory": None if memory is None else asdict(memory),
            "vcpus": vm.vcpus, "instance_id": vm.instance_id}


def port_json(port: PortView) -> dict[str, Any]:
    """One port as JSON."""
    state = port.state
    return {"name": port.nic.name, "mac": port.nic.mac, "vm": port.vm, "vm_id": port.nic.vm_id,
            "vswitch": state.switch,
            "vlan": {"mode": state.vlan.mode, "access_id": state.vlan.access_id,
                     "native_id": state.vlan.native_id, "allowed": list(state.vlan.allowed)},
            "acl_count": len(state.acls), "allow_mac_spoofing": state.allow_mac_spoofing,
            "dhcp_guard": state.dhcp_guard, "router_guard": state.router_guard,
            "sriov": None if state.sriov is None else asdict(state.sriov),
            "bandwidth": None if state.bandwidth is None else asdict(state.bandwidth),
            "profile": None if state.profile is None else asdict(state.profile)}


def acl_json(rule: AclRule) -> dict[str, Any]:
    """One ACL rule as JSON."""
    return {"direction": rule.direction, "weight": rule.weight, "action": rule.action,
            "protocol": rule.protocol, "local_address": rule.local_address,
            "local_ports": rule.local_ports, "remote_address": rule.remote_address,
            "remote_ports": rule.remote_ports, "stateful": rule.stateful,
            "idle_timeout": rule.idle_timeout, "name": rule.name}


def _dump(document: Mapping[str, Any], out: IO[str]) -> None:
    out.write(json.dumps(document, indent=2) + "\n")


# -- tables ---------------------------------------------------------------------------------
NONE = "-"


def bits_per_second(value: int) -> str:
    """*value* bit/s in SI units, three significant digits (``1 Gbit/s``)."""
    for unit, scale in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}bit/s"
    return f"{value} bit/s"


def id_ranges(ids: Iterable[int]) -> str:
    """Sorted ids with runs shortened: ``10-12,20``."""
    runs: list[list[int]] = []
    for vlan in sorted(set(ids)):
        if runs and vlan == runs[-1][1] + 1:
            runs[-1][1] = vlan
        else:
            runs.append([vlan, vlan])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def vlan_text(state: PortState) -> str:
    """``access 100``, ``trunk 10-12,20 native 10`` or ``untagged``."""
    vlan = state.vlan
    if vlan.mode == ACCESS:
        return f"access {vlan.access_id}"
    if vlan.mode == TRUNK:
        native = f" native {vlan.native_id}" if vlan.native_id else ""
        return f"trunk {id_ranges(vlan.allowed)}{native}"
    return "untagged"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _table(title: str, *columns: str, right: Iterable[str] = ()) -> Table:
    table = Table(title=Text(title), title_justify="left", title_style="bold")
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left")
    return table


def _row(table: Table, *cells: str) -> None:
    """Add a row of plain text (names from the host are not rich markup)."""
    table.add_row(*(Text(cell) for cell in cells))


def overview_renderables(overview: Overview) -> list[Any]:
    """The header line and the three tables of the overview."""
    host = overview.host
    iov = "supported" if host.iov_supported else "not supported"
    header = Text.assemble(
        (f"Host {host.name}", "bold"),
        f" ({overview.url}): {host.os_caption} {host.os_version}, "
        f"{host.logical_processors} logical processors, {host.memory_total_mb} MB memory "
        f"({host.memory_free_mb} MB free), SR-IOV {iov}")
    return [header, switches_table(overview), vms_table(overview),
            ports_table(overview.ports)]


def switches_table(overview: Overview) -> Table:
    """vSwitches: name, type, uplink, SR-IOV, ports connected."""
    table = _table("vSwitches", "Name", "Type", "Uplink", "SR-IOV", "Ports", right=("Ports",))
    for switch in overview.host.switches:
        if switch.iov_enabled:
            iov = "enabled"
        else:
            iov = "off (uplink capable)" if switch.iov_capable else "off"
        ports = sum(1 for p in overview.ports if p.state.switch == switch.name)
        _row(table, switch.name, switch.type, switch.uplink or NONE, iov, str(ports))
    return table


def vms_table(overview: Overview) -> Table:
    """VMs: name, state, generation, secure boot, memory, vCPUs, vNICs."""
    table = _table("VMs", "Name", "State", "Gen", "Secure boot", "Memory", "vCPUs", "vNICs",
                   right=("Gen", "Memory", "vCPUs", "vNICs"))
    for vm in overview.vms:
        memory = f"{vm.memory_mb} MB"
        if vm.dynamic_memory is not None:
            memory += (f" (dynamic {vm.dynamic_memory.minimum_mb}-"
                       f"{vm.dynamic_memory.maximum_mb})")
        nics = sum(1 for p in overview.ports if _guid(p.nic.vm_id) == _guid(vm.vm_id))
        _row(table, vm.name, vm.state.name.lower(), str(vm.generation),
             vm.secure_boot or "off", memory, str(vm.vcpus), str(nics))
    return table


def ports_table(ports: Sequence[PortView], title: str = "Ports (vNICs)") -> Table:
    """Ports: vNIC, VM, MAC, vSwitch, VLAN, ACL count, MAC spoofing,
    SR-IOV, bandwidth limit and reservation, profile."""
    table = _table(title, "vNIC", "VM", "MAC", "vSwitch", "VLAN", "ACLs", "MAC spoofing",
                   "SR-IOV", "Limit", "Reservation", "Profile",
                   right=("ACLs", "Limit", "Reservation"))
    for port in ports:
        state = port.state
        sriov = (NONE if state.sriov is None else
                 f"weight {state.sriov.offload_weight}, {state.sriov.queue_pairs} QP")
        bandwidth = state.bandwidth
        limit = bits_per_second(bandwidth.limit_bps) if bandwidth and bandwidth.limit_bps \
            else NONE
        reservation = (bits_per_second(bandwidth.reservation_bps)
                       if bandwidth and bandwidth.reservation_bps else NONE)
        profile = (NONE if state.profile is None else
                   state.profile.profile_name or state.profile.profile_id)
        _row(table, port.nic.name or "(unnamed)", port.vm or NONE, port.nic.mac or NONE,
             state.switch or "(not connected)", vlan_text(state), str(len(state.acls)),
             _yes(state.allow_mac_spoofing), sriov, limit, reservation, profile)
    return table


def acl_table(port: str, rules: Sequence[AclRule]) -> Table:
    """A port's ACL rules, in the order given."""
    table = _table(f"ACLs of port {port}", "Direction", "Weight", "Action", "Protocol",
                   "Local address", "Local ports", "Remote address", "Remote ports",
                   "Stateful", "Name", right=("Weight",))
    for rule in rules:
        _row(table, rule.direction, str(rule.weight), rule.action, rule.protocol,
             rule.local_address, rule.local_ports, rule.remote_address, rule.remote_ports,
             _yes(rule.stateful), rule.name or NONE)
    return table


def _print(out: IO[str], *renderables: Any) -> None:
    """Print with rich: fitted to a terminal, at natural width elsewhere."""
    console = Console(file=out, highlight=False)
    if not console.is_terminal:
        console = Console(file=out, highlight=False, width=PIPE_WIDTH)
    for renderable in renderables:
        console.print(renderable)
