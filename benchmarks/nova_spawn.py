"""Host calls the compute driver makes per instance operation.

Spawns instances (``--instances``, default 20) with ``--vifs`` network
adapters each (default 2) through :class:`winstackers.nova.driver.HyperVDriver`
on an emulated host, then destroys them, and prints one JSON object as its
last line:

- ``writes_per_spawn`` / ``reads_per_spawn``: host calls per spawn (VM
  defined with its processors and memory in one call, one call per
  adapter, one to start it, plus the jobs' polls);
- ``writes_per_destroy`` / ``reads_per_destroy``;
- ``calls_by_operation_spawn``: the spawn calls by WS-Man/CIM operation;
- ``seconds_per_spawn``: wall time per spawn with ``--latency`` seconds
  emulated per call (default 0.02).

    python benchmarks/nova_spawn.py --instances 20 --vifs 2 --latency 0.02
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

import nova.tests.unit  # noqa: F401  (registers nova's objects)
from nova import objects
from nova.conf import CONF
from nova.network import model as network_model
from nova.virt import fake

from winstackers.cim import connect
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.nova.driver import HyperVDriver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--vifs", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()

    url = f"emulator://nova-bench-{uuid.uuid4().hex[:8]}"
    CONF.set_override("url", url, group="hyperv_host")
    session = connect(url)
    host = getattr(session, "emulated_host", None)
    assert isinstance(host, EmulatedHost)
    driver = HyperVDriver(fake.FakeVirtAPI())
    driver.init_host("bench")
    flavor = objects.Flavor(vcpus=2, memory_mb=2048, root_gb=0, ephemeral_gb=0, swap=0,
                            extra_specs={"os:secure_boot": "required"}, name="m1.bench")
    image = objects.ImageMeta.from_dict({"id": str(uuid.uuid4()), "properties": {}})
    instances = [objects.Instance(id=i + 1, uuid=str(uuid.uuid4()), flavor=flavor,
                                  os_type="linux") for i in range(args.instances)]
    host.faults = FaultPlan(latency=args.latency)
    host.counters.reset()
    started = time.perf_counter()
    for instance in instances:
        vifs = [network_model.VIF(id=str(uuid.uuid4()), address=f"fa:16:3e:00:{n:02x}:{k:02x}",
                                  type="hyperv", active=True)
                for n, k in ((instance.id, k) for k in range(args.vifs))]
        driver.spawn(None, instance, image, [], None, {},
                     network_info=network_model.NetworkInfo(vifs))
    spawn_seconds = time.perf_counter() - started
    spawn: dict[str, Any] = {"reads": host.counters.reads, "writes": host.counters.writes,
                             "by_operation": host.counters.by_operation()}
    host.counters.reset()
    for instance in instances:
        driver.destroy(None, instance, [])
    n = args.instances
    print(json.dumps({
        "instances": n, "vifs": args.vifs, "latency_s": args.latency,
        "writes_per_spawn": spawn["writes"] / n, "reads_per_spawn": spawn["reads"] / n,
        "calls_by_operation_spawn": {op: count / n
                                     for op, count in sorted(spawn["by_operation"].items())},
        "writes_per_destroy": host.counters.writes / n,
        "reads_per_destroy": host.counters.reads / n,
        "seconds_per_spawn": round(spawn_seconds / n, 4),
    }))


if __name__ == "__main__":
    main()
