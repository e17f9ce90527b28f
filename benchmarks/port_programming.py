"""Host calls and time to program switch ports with the host library.

Prints one JSON object:

- ``writes_new_port``: writes to connect and configure a new port (VLAN
  access, MAC spoofing off, 20 ACL rules, a bandwidth limit);
- ``writes_reapply``: writes to apply the same state again;
- ``writes_one_rule_change``: writes to add one ACL rule;
- ``reads_full_host_state_1000_ports``: calls to read every port of a host
  with 1,000 ports (``SwitchPorts.read_all``);
- ``seconds_apply_1000_new_ports``: wall time to apply 1,000 new ports with
  ``--latency`` seconds (default 20 ms) emulated per CIM call, from
  ``--workers`` threads (the agent's bounded worker pool).

    python benchmarks/port_programming.py --ports 1000 --latency 0.02 --workers 16
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from winstackers.cim import Session, call, connect
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import AclRule, Bandwidth, PortState, Vlan


def desired(extra_rule: bool = False) -> PortState:
    """VLAN access, no MAC spoofing, 20 ACL rules, a 1 Gbit/s limit."""
    rules = {AclRule("in", "deny", 1), AclRule("out", "deny", 1),
             AclRule("out", "allow", 100)}
    rules |= {AclRule("in", "allow", 100 + i, "tcp", local_ports=str(1000 + i),
                      remote_address="10.0.0.0/8") for i in range(17)}
    if extra_rule:
        rules.add(AclRule("in", "allow", 500, "udp", local_ports="53"))
    return PortState("vSwitch-physnet1", Vlan.access(100), acls=frozenset(rules),
                     bandwidth=Bandwidth(limit_bps=10**9))


def make_vnics(session: Session, count: int) -> list[str]:
    """*count* VMs with one unconnected adapter each (no latency)."""
    vsms = session.query("SELECT * FROM Msvm_VirtualSystemManagementService")[0].path
    nic = session.query(r"SELECT * FROM Msvm_SyntheticEthernetPortSettingData "
                        r"WHERE InstanceID LIKE '%\\Default'")[0]
    names = []
    for index in range(count):
        settings = session.new_instance("Msvm_VirtualSystemSettingData",
                                        {"ElementName": f"bench-{index}"})
        vm = call(session, vsms, "DefineSystem", {"SystemSettings": settings})["ResultingSystem"]
        vssd = session.associators(vm, assoc_class="Msvm_SettingsDefineState")[0].path
        names.append(f"port-{index:04d}")
        call(session, vsms, "AddResourceSettings", {
            "AffectedConfiguration": vssd,
            "ResourceSettings": [nic.replace(ElementName=names[-1])]})
    return names


def delta(host: EmulatedHost, action: Any) -> tuple[int, int]:
    """(writes, all calls) that *action* makes."""
    writes, calls = host.counters.writes, sum(host.counters.by_operation().values())
    action()
    return (host.counters.writes - writes,
            sum(host.counters.by_operation().values()) - calls)


def run(ports: int, latency: float, workers: int) -> dict[str, Any]:
    """Run every measurement; return the figures."""
    session = connect("emulator://")
    host: EmulatedHost = session.emulated_host  # type: ignore[attr-defined]
    lib = SwitchPorts(session)
    names = make_vnics(session, ports)
    first = names[0]
    new_port, _ = delta(host, lambda: lib.apply(first, desired()))
    reapply, _ = delta(host, lambda: lib.apply(first, desired()))
    one_rule, _ = delta(host, lambda: lib.apply(first, desired(extra_rule=True)))
    lib.apply(first, desired())
    host.faults = FaultPlan(latency=latency)
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda name: lib.apply(name, desired()), names[1:]))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    host.faults = FaultPlan()
    _, full_read = delta(host, lib.read_all)
    return {
        "benchmark": "port_programming", "ports": ports, "acl_rules_per_port": 20,
        "writes_new_port": new_port, "writes_reapply": reapply,
        "writes_one_rule_change": one_rule,
        f"reads_full_host_state_{ports}_ports": full_read,
        f"seconds_apply_{ports}_new_ports": round(seconds, 2),
        "cpu_seconds_apply": round(cpu, 2), "latency_per_call_s": latency,
        "workers": workers, "cores": os.cpu_count(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    print(json.dumps(run(args.ports, args.latency, args.workers), indent=2))


if __name__ == "__main__":
    main()
