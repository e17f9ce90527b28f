"""WS-Management round trips against the served emulator, over loopback HTTPS.

Prints one JSON object: Get round trips per second, and the time of a
1,000-instance enumeration (``SELECT * FROM Msvm_ComputerSystem`` on a host
with 999 VMs) through :mod:`winstackers.cim.transports.wsman`, with the
number of round trips it took (Enumerate + Pulls: pages are bounded by
the client's MaxElements and by pypsrp's 150 KiB MaxEnvelopeSize) and the
same query in-process for comparison.  Client and server share one
process (and its GIL), so the figures are a lower bound for two
processes; they depend on the machine.

    python benchmarks/wsman_roundtrips.py --instances 1000 --gets 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from winstackers.cim import Session, call, connect
from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman.fixtures import served_host

QUERY = "SELECT * FROM Msvm_ComputerSystem"


def populate(host: EmulatedHost, vms: int) -> None:
    """Define *vms* VMs in-process (the host system makes one more)."""
    session = EmulatedSession(host)
    vsms = session.query("SELECT * FROM Msvm_VirtualSystemManagementService")[0].path
    assert vsms is not None
    for index in range(vms):
        settings = session.new_instance("Msvm_VirtualSystemSettingData", {
            "ElementName": f"bench-{index}", "VirtualSystemSubType": "Microsoft:Hyper-V:SubType:2"})
        call(session, vsms, "DefineSystem", {"SystemSettings": settings})


def timed(action: Callable[[], Any], repeat: int) -> list[float]:
    """Seconds of each of *repeat* runs of *action*."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def round_trips(session: Session, action: Callable[[], Any]) -> int:
    """How many WS-Management requests *action* sends."""
    sent = [0]
    original = session._send  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        return original(*args, **kwargs)

    session._send = counting  # type: ignore[attr-defined]
    try:
        action()
    finally:
        session._send = original  # type: ignore[attr-defined]
    return sent[0]


def run(instances: int, gets: int, repeat: int) -> dict[str, object]:
    """The figures for an enumeration of *instances* systems."""
    host = EmulatedHost()
    populate(host, instances - 1)
    with served_host(host) as (_, url, password, _):
        session = connect(url, password=password)
        vm = session.query(QUERY)[0].path
        assert vm is not None
        get_seconds = timed(lambda: session.get(vm), gets)
        found = len(session.query(QUERY))
        enum_seconds = timed(lambda: session.query(QUERY), repeat)
        trips = round_trips(session, lambda: session.query(QUERY))
        session.close()
    local = timed(lambda: host.query(QUERY), repeat)
    median = statistics.median(enum_seconds)
    return {
        "transport": "wsman over loopback HTTPS (Basic auth, pypsrp client)",
        "get": {"round_trips": gets, "per_second": round(gets / sum(get_seconds), 1),
                "median_ms": round(statistics.median(get_seconds) * 1000, 2)},
        "enumeration": {"instances": found, "round_trips": trips,
                        "median_seconds": round(median, 3),
                        "best_seconds": round(min(enum_seconds), 3),
                        "instances_per_second": round(found / median),
                        "in_process_median_seconds": round(statistics.median(local), 4)},
        "python": sys.version.split()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000,
                        help="systems to enumerate (VMs + the host; default 1000)")
    parser.add_argument("--gets", type=int, default=500, help="Get round trips (default 500)")
    parser.add_argument("--repeat", type=int, default=5, help="enumerations timed (default 5)")
    args = parser.parse_args()
    print(json.dumps(run(args.instances, args.gets, args.repeat), indent=2))


if __name__ == "__main__":
    main()
