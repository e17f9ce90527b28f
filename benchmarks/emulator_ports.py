"""How fast the emulated host sets up ports, and how many CIM calls it takes.

Prints one JSON object.  For N VMs with one port each: define the VM, add a
vNIC, connect it, and give the port a VLAN, a security setting and a set of
ACLs (a default deny pair plus allow rules) in one AddFeatureSettings call.
The CIM call counts are deterministic; the timings depend on the machine.

    python benchmarks/emulator_ports.py --ports 200 --acls 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

from winstackers.cim import Instance, Reference, Session, call, connect

ACL = "Msvm_EthernetSwitchPortExtendedAclSettingData"


def _default(session: Session, class_name: str) -> Instance:
    return session.query(rf"SELECT * FROM {class_name} WHERE InstanceID LIKE '%\\Default'")[0]


def _features(session: Session, acls: int, index: int) -> list[Instance]:
    acl = _default(session, ACL)
    rules = [acl.replace(Direction=d, Action=2, Weight=1) for d in (1, 2)]
    rules += [acl.replace(Direction=1, Action=1, Weight=100 + i, Protocol="TCP",
                          LocalPort=str(1000 + i), RemoteIPAddress="10.0.0.0/8")
              for i in range(max(acls - 2, 0))]
    return [_default(session, "Msvm_EthernetSwitchPortVlanSettingData").replace(
                OperationMode=1, AccessVlanId=100 + index % 3000),
            _default(session, "Msvm_EthernetSwitchPortSecuritySettingData"), *rules]


def _one_port(session: Session, vsms: Reference, switch: str, acls: int, index: int) -> None:
    settings = session.new_instance("Msvm_VirtualSystemSettingData",
                                    {"ElementName": f"bench-{index}",
                                     "VirtualSystemSubType": "Microsoft:Hyper-V:SubType:2"})
    vm = call(session, vsms, "DefineSystem", {"SystemSettings": settings})["ResultingSystem"]
    vssd = session.associators(vm, assoc_class="Msvm_SettingsDefineState")[0].path
    nic = _default(session, "Msvm_SyntheticEthernetPortSettingData").replace(
        ElementName=f"port-{index}")
    nic_ref = call(session, vsms, "AddResourceSettings", {
        "AffectedConfiguration": vssd, "ResourceSettings": [nic]})["ResultingResourceSettings"][0]
    conn = _default(session, "Msvm_EthernetPortAllocationSettingData").replace(
        Parent=nic_ref.path, HostResource=[switch])
    alloc = call(session, vsms, "AddResourceSettings", {
        "AffectedConfiguration": vssd, "ResourceSettings": [conn]})["ResultingResourceSettings"][0]
    call(session, vsms, "AddFeatureSettings", {"AffectedConfiguration": alloc,
                                              "FeatureSettings": _features(session, acls, index)})


def run(ports: int, acls: int, latency: float) -> dict[str, object]:
    """Set up *ports* ports; return the figures."""
    session = connect(f"emulator://?latency={latency}")
    host = session.emulated_host  # type: ignore[attr-defined]
    vsms = session.query("SELECT * FROM Msvm_VirtualSystemManagementService")[0].path
    switch = session.query("SELECT * FROM Msvm_VirtualEthernetSwitch")[0].path.path
    host.counters.reset()
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(ports):
        _one_port(session, vsms, switch, acls, index)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = host.counters.by_operation()
    return {
        "benchmark": "emulator_ports", "ports": ports, "acls_per_port": acls,
        "latency_per_call_s": latency, "seconds": round(wall, 3),
        "ports_per_second": round(ports / wall, 1), "cpu_seconds": round(cpu, 3),
        "cim_writes_per_port": host.counters.writes / ports,
        "cim_reads_per_port": host.counters.reads / ports,
        "calls_by_operation": counts,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cores": os.cpu_count(), "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=200)
    parser.add_argument("--acls", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.0,
                        help="emulated seconds per CIM call")
    args = parser.parse_args()
    print(json.dumps(run(args.ports, args.acls, args.latency), indent=2))


if __name__ == "__main__":
    main()
