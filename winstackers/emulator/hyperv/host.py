"""The emulated Hyper-V host: a strict stand-in for ``root/virtualization/v2``.

:class:`EmulatedHost` serves the CIM operations that
:class:`winstackers.cim.api.Session` defines (query, get, associators,
references, invoke, new_instance; intrinsic create/modify/delete are
refused, as Hyper-V's classes are changed through their management
services).  Transports call it: in-process
(:mod:`winstackers.cim.transports.emulated`) and, later, over the wire.

Beyond CIM it offers what tests need and a real host cannot give: fault
injection (:attr:`faults`), call counters (:attr:`counters`), packet
evaluation against a port's ACLs (:meth:`evaluate_packet`), files put
on the host (:meth:`add_file`, :attr:`files`) and save/load of the whole
state (:meth:`save`, :meth:`load`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from winstackers.cim import wql
from winstackers.cim.api import HYPERV_NAMESPACE, MethodResult
from winstackers.cim.errors import CimError, InvalidParameter, NotFound, NotSupported
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv import imagefiles, packets, params
from winstackers.emulator.hyperv.config import HostConfig
from winstackers.emulator.hyperv.faults import READ_METHODS, CallCounters, FaultPlan
from winstackers.emulator.hyperv.jobs import JobQueue
from winstackers.emulator.hyperv.methods import REGISTRY, MethodError, MethodSpec, Outcome
from winstackers.emulator.hyperv.schema import SCHEMA
from winstackers.emulator.hyperv.store import Store

# Importing the providers registers their methods.
from winstackers.emulator.hyperv.providers import (  # noqa: F401  isort: skip
    computer_system, features, image_service, resources, shutdown, summary, switches, systems,
)

STATE_VERSION = 1


def _refresh_free_memory(host: EmulatedHost) -> None:
    from winstackers.emulator.hyperv import hostfacts
    hostfacts.refresh_free_memory(host)


#: Classes whose values the host computes when they are read.
_DYNAMIC: dict[str, Callable[[EmulatedHost], None]] = {
    "win32_operatingsystem": _refresh_free_memory}


class EmulatedHost:
    """One emulated Hyper-V host with real, thread-safe state."""

    def __init__(self, config: HostConfig | None = None, faults: FaultPlan | None = None,
                 *, clock: Callable[[], float] = time.monotonic,
                 state_file: str | os.PathLike[str] | None = None) -> None:
        self.config = config or HostConfig()
        self.faults = faults or FaultPlan()
        self.counters = CallCounters()
        self.schema = SCHEMA
        self.namespace = HYPERV_NAMESPACE
        self.store = Store(self.schema, self.namespace)
        self.clock = clock
        self.jobs = JobQueue(self.store, clock)
        #: The host's virtual hard disk and ISO files, by path (also real
        #: files in ``config.files_root`` when it is set).
        self.files = imagefiles.ImageFiles(self.config.files_root)
        self.flows: dict[str, packets.FlowTable] = {}
        #: When each running VM was last started (clock seconds), for Uptime.
        self.started_at: dict[Reference, float] = {}
        self.state_file = Path(state_file) if state_file else None
        self._lock = threading.RLock()
        self._mac_counter = 0
        from winstackers.emulator.hyperv import seed
        seed.populate(self)

    @property
    def name(self) -> str:
        """The host's computer name."""
        return self.config.name

    # -- the CIM operations ---------------------------------------------------
    @contextmanager
    def _operation(self, operation: str, method: str | None = None,
                   writes: bool = False) -> Iterator[None]:
        self.counters.record(operation, method)
        self.faults.before_call(self.name, method or operation)
        with self._lock:
            finished = self.jobs.advance()
            yield
            if writes or finished:
                self._autosave()

    def query(self, text: str, namespace: str | None = None) -> list[Instance]:
        """Run a WQL query (see :mod:`winstackers.cim.wql`) in *namespace*
        (``root/virtualization/v2`` when None; ``root/cimv2`` holds the
        operating system classes)."""
        parsed = wql.parse(text)
        with self._operation("query"):
            if isinstance(parsed, wql.SelectQuery):
                if parsed.class_name.lower() in _DYNAMIC:
                    _DYNAMIC[parsed.class_name.lower()](self)
                return self.store.select(parsed, text, namespace)
            source = Reference.parse(parsed.source_path, self.namespace)
            if parsed.references:
                return self._references(source, parsed.result_class, parsed.role)
            return self._associators(source, parsed.assoc_class, parsed.result_class,
                                     parsed.role, parsed.result_role)

    def get(self, ref: Reference) -> Instance:
        """Read one instance.  :raises NotFound: naming the reference."""
        with self._operation("get"):
            self.schema.get(ref.class_name)
            if ref.class_name.lower() in _DYNAMIC:
                _DYNAMIC[ref.class_name.lower()](self)
            return self.store.snapshot(ref)

    def associators(self, ref: Reference, assoc_class: str | None = None,
                    result_class: str | None = None, role: str | None = None,
                    result_role: str | None = None) -> list[Instance]:
        """Instances associated with *ref* (CIM Associators)."""
        with self._operation("associators"):
            return self._associators(ref, assoc_class, result_class, role, result_role)

    def references(self, ref: Reference, result_class: str | None = None,
                   role: str | None = None) -> list[Instance]:
        """Association instances referring to *ref* (CIM References)."""
        with self._operation("references"):
            return self._references(ref, result_class, role)

    def _associators(self, ref: Reference, assoc_class: str | None, result_class: str | None,
                     role: str | None, result_role: str | None) -> list[Instance]:
        self.store.get(ref)
        for name in (assoc_class, result_class):
            if name:
                self.schema.get(name)
        found = self.store.associators(ref, assoc_class, result_class, role, result_role)
        return [self.store.snapshot(other) for other in found]

    def _references(self, ref: Reference, result_class: str | None,
                    role: str | None) -> list[Instance]:
        self.store.get(ref)
        if result_class:
            self.schema.get(result_class)
        return [self.store.snapshot(assoc, record)
                for assoc, record in self.store.references_of(ref, result_class, role)]

    def new_instance(self, class_name: str,
                     properties: Mapping[str, Any] | None = None) -> Instance:
        """A new unsaved instance with the class's defaults and types."""
        with self._operation("new_instance"):
            cls = self.schema.get(class_name)
            if cls.abstract or cls.association:
                raise InvalidParameter(where=cls.name, detail="abstract classes and "
                                       "associations cannot be spawned")
            values = cls.defaults()
            for name, value in (properties or {}).items():
                values[cls.canonical(name)] = value
            return Instance(cls.name, values, None, cls.types())

    def create(self, instance: Instance) -> Reference:
        """Refused: Hyper-V classes are created through their services."""
        raise NotSupported(where=f"CreateInstance of {instance.class_name}",
                           detail="use the management service methods (DefineSystem, "
                                  "AddResourceSettings, AddFeatureSettings)")

    def modify(self, instance: Instance) -> Instance:
        """Refused: Hyper-V settings are changed through Modify*Settings."""
        raise NotSupported(where=f"ModifyInstance of {instance.class_name}",
                           detail="use ModifySystemSettings, ModifyResourceSettings or "
                                  "ModifyFeatureSettings")

    def delete(self, ref: Reference) -> None:
        """Refused: Hyper-V objects are removed through their services."""
        raise NotSupported(where=f"DeleteInstance of {ref.class_name}",
                           detail="use DestroySystem, RemoveResourceSettings or "
                                  "RemoveFeatureSettings")

    # -- methods --------------------------------------------------------------
    def invoke(self, target: Reference, method: str,
               parameters: Mapping[str, Any] | None = None) -> MethodResult:
        """Run an extrinsic method.

        :raises NotFound: unknown class, target instance or method.
        :raises NotSupported: a documented method the emulator does not have.
        :raises InvalidParameter: an unknown parameter or a wrong kind.
        """
        spec = self._method_spec(target, method)
        with self._operation("invoke", spec.name, writes=spec.name not in READ_METHODS):
            self.store.get(target)
            try:
                args = params.convert(self, spec, parameters or {})
                outcome = spec.provider(self, target, args)
            except MethodError as err:
                return MethodResult(err.code, {}, err.description)
            return self._finish(spec.name, outcome)

    def _method_spec(self, target: Reference, method: str) -> MethodSpec:
        cls = self.schema.get(target.class_name)
        spec = REGISTRY.get((cls.name.lower(), method.lower()))
        if spec is not None:
            return spec
        if method.lower() in (m.lower() for m in cls.not_emulated):
            raise NotSupported(where=f"{cls.name}.{method}", detail="not emulated")
        raise NotFound(what=f"method {method!r} of class {cls.name}")

    def _finish(self, method: str, outcome: Outcome) -> MethodResult:
        if not outcome.as_job:
            if outcome.apply:
                outcome.apply()
            return MethodResult(0, dict(outcome.out))
        if self.faults.job_fails():
            job = self.jobs.start(method, self.faults.job_delay,
                                  fail=(32768, f"{method} failed: injected job failure"))
            return MethodResult(4096, {"Job": job})
        if outcome.apply:
            outcome.apply()
        job = self.jobs.start(method, self.faults.job_delay, on_complete=outcome.on_complete)
        return MethodResult(4096, {**outcome.out, "Job": job})

    # -- emulator-only facilities --------------------------------------------
    def next_mac(self) -> str:
        """A dynamic MAC from the host's pool (Hyper-V's 00-15-5D prefix)."""
        self._mac_counter += 1
        return f"{self.config.mac_prefix}{self._mac_counter:06X}"

    def add_file(self, path: str, kind: str, size: int) -> None:
        """Put a file on the host, as copying it there would: an ``iso`` of
        *size* bytes, or an empty dynamic ``vhd``/``vhdx`` disk of *size*
        bytes (see :func:`.imagefiles.register`).

        :raises InvalidParameter: a path not fully qualified or taken, an
            unknown kind, a size out of range.
        """
        with self._lock:
            imagefiles.register(self.files, path, kind, size)
            self._autosave()

    def evaluate_packet(self, port: str, packet: packets.Packet,
                        now: float | None = None) -> packets.Verdict:
        """Whether *packet* passes the port whose connection setting
        (Msvm_EthernetPortAllocationSettingData) has InstanceID *port*, or
        whose vNIC (Msvm_SyntheticEthernetPortSettingData) has ElementName
        *port*.  Stateful flows are remembered per port.

        :raises NotFound: when no such port exists.
        """
        with self._lock:
            self.jobs.advance()
            from winstackers.emulator.hyperv import model
            alloc = model.find_port_allocation(self.store, port)
            rules = [dict(record) for _, record in model.port_features(
                self.store, alloc, "Msvm_EthernetSwitchPortExtendedAclSettingData")]
            flows = self.flows.setdefault(alloc.key("InstanceID"), packets.FlowTable())
        return packets.evaluate(rules, packet, flows, self.clock() if now is None else now)

    # -- persistence ----------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        """The whole host state as JSON-able data."""
        with self._lock:
            self.jobs.advance()
            return {"version": STATE_VERSION, "config": self.config.to_dict(),
                    "mac_counter": self._mac_counter, "instances": self.store.dump(),
                    "files": self.files.dump()}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the state to *path* atomically (temp file + rename)."""
        data = json.dumps(self.dump(), indent=1, sort_keys=True)
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(data)
        os.replace(tmp, target)

    @classmethod
    def load(cls, path: str | os.PathLike[str], faults: FaultPlan | None = None,
             *, autosave: bool = False, files_root: str | None = None) -> EmulatedHost:
        """A host with the state saved at *path* (its files in *files_root*
        when given, else where the saved state says).

        Jobs still running when the state was saved are lost: on a real host
        they would not survive a restart of the management service either.

        :raises InvalidParameter: when the file is not a saved host state.
        """
        where = f"emulator state file {path}"
        try:
            data = json.loads(Path(path).read_text())
            if data["version"] != STATE_VERSION:
                raise InvalidParameter(where=where, detail=f"version {data['version']}, "
                                       f"expected {STATE_VERSION}")
            config = HostConfig.from_dict(data["config"])
            if files_root is not None:
                config = dataclasses.replace(config, files_root=files_root)
            host = cls(config, faults, state_file=path if autosave else None)
            with host._lock:
                host.store.load(data["instances"])
                host.files.load(data.get("files", []))
                host._mac_counter = int(data["mac_counter"])
                host._settle_after_load()
        except InvalidParameter:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError, CimError) as exc:
            raise InvalidParameter(where=where, detail=f"{type(exc).__name__}: {exc}") from None
        return host

    def _settle_after_load(self) -> None:
        """Finish what was in flight when the state was saved: a running
        job ends Completed and a VM starting or stopping reaches the state it
        was going to (the job's effects were applied when it started)."""
        from winstackers.emulator.hyperv import model
        for ref, record in list(self.store.instances("Msvm_ConcreteJob")):
            if record["JobState"] == 4:
                self.store.update(ref, {"JobState": 7, "PercentComplete": 100})
        final = {model.STARTING: model.RUNNING, model.SHUTTING_DOWN: model.OFF}
        for ref, record in list(self.store.instances("Msvm_ComputerSystem")):
            if record.get("EnabledState") in final:
                self.store.update(ref, {"EnabledState": final[record["EnabledState"]],
                                        "RequestedState": 12})

    def _autosave(self) -> None:
        if self.state_file is not None:
            self.save(self.state_file)
