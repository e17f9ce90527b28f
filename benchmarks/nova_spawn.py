"""Host calls the compute driver makes per instance operation.

Spawns instances (``--instances``, default 20) with ``--vifs`` network
adapters each (default 2), a root disk over one vhdx image grown to
``--root-gb`` (default 10; 0 keeps the image's 1 GiB) and an ephemeral disk
of ``--ephemeral-gb`` (default 0: none) through
:class:`winstackers.nova.driver.HyperVDriver` on an emulated host whose
files are in a temporary directory (the file channel is that directory),
then destroys them, and prints one JSON object as its last line:

- ``writes_per_spawn`` / ``reads_per_spawn``: host calls per spawn (VM
  defined with its processors and memory in one call; the root disk
  created, grown and attached (drive, then image); the ephemeral disk
  created and attached; one call per adapter; one to start it; plus the
  jobs' polls);
- ``writes_per_destroy`` / ``reads_per_destroy``;
- ``calls_by_operation_spawn``: the spawn calls by WS-Man/CIM operation;
- ``downloads``: image downloads in all (1: the host's image cache);
- ``seconds_per_spawn``: wall time per spawn with ``--latency`` seconds
  emulated per call (default 0.02).

    python benchmarks/nova_spawn.py --instances 20 --vifs 2 --latency 0.02
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from typing import Any

import nova.tests.unit  # noqa: F401  (registers nova's objects)
from nova import objects
from nova.conf import CONF
from nova.image import glance
from nova.network import model as network_model
from nova.virt import fake

from winstackers.cim import connect
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.filesroot import image_bytes
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.nova.driver import HyperVDriver


class OneImage:
    """What nova's image API reaches (as nova's GlanceFixture stands in for
    Glance): one vhdx image of 1 GiB, downloads counted."""

    def __init__(self) -> None:
        self.id = str(uuid.uuid4())
        self.downloads = 0

    def show(self, context: Any, image_id: str, **kwargs: Any) -> dict[str, Any]:
        return {"id": self.id, "name": "bench", "disk_format": "vhdx",
                "container_format": "bare", "status": "active", "properties": {}}

    def download(self, context: Any, image_id: str, data: Any = None, dst_path: Any = None,
                 trusted_certs: Any = None) -> None:
        self.downloads += 1
        with open(dst_path, "wb") as handle:
            handle.write(image_bytes("vhdx", 1024 ** 3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--vifs", type=int, default=2)
    parser.add_argument("--root-gb", type=int, default=10)
    parser.add_argument("--ephemeral-gb", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nova-bench-files-") as files:
        run(args, files)


def run(args: argparse.Namespace, files: str) -> None:
    served = OneImage()
    glance.get_default_image_service = lambda: served
    url = f"emulator://nova-bench-{uuid.uuid4().hex[:8]}?files={files}"
    CONF.set_override("url", url, group="hyperv_host")
    session = connect(url)
    host = getattr(session, "emulated_host", None)
    assert isinstance(host, EmulatedHost)
    driver = HyperVDriver(fake.FakeVirtAPI())
    driver.init_host("bench")
    flavor = objects.Flavor(vcpus=2, memory_mb=2048, root_gb=args.root_gb,
                            ephemeral_gb=args.ephemeral_gb, swap=0,
                            extra_specs={"os:secure_boot": "required"}, name="m1.bench")
    image = objects.ImageMeta.from_dict(served.show(None, served.id))
    instances = [objects.Instance(id=i + 1, uuid=str(uuid.uuid4()), flavor=flavor,
                                  os_type="linux", image_ref=served.id, config_drive="",
                                  system_metadata={}, launched_at=None)
                 for i in range(args.instances)]
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
        "instances": n, "vifs": args.vifs, "root_gb": args.root_gb,
        "ephemeral_gb": args.ephemeral_gb, "latency_s": args.latency,
        "writes_per_spawn": spawn["writes"] / n, "reads_per_spawn": spawn["reads"] / n,
        "calls_by_operation_spawn": {op: count / n
                                     for op, count in sorted(spawn["by_operation"].items())},
        "writes_per_destroy": host.counters.writes / n,
        "reads_per_destroy": host.counters.reads / n,
        "downloads": served.downloads,
        "seconds_per_spawn": round(spawn_seconds / n, 4),
    }))


if __name__ == "__main__":
    main()
