"""The in-process transport: a session on an :class:`EmulatedHost`.

It does what a wire transport does to values, so code tested through it
behaves the same over WS-Management: instances passed as method parameters
are encoded to embedded-instance text (CIM-XML) and the host decodes them;
results are fresh snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from winstackers.cim import embedded
from winstackers.cim.api import MethodResult, Session
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv.host import EmulatedHost


class EmulatedSession(Session):
    """A session on an in-process emulated host."""

    def __init__(self, host: EmulatedHost) -> None:
        self.emulated_host = host
        self.host = host.name
        self.namespace = host.namespace
        self._closed = False

    def _live(self) -> EmulatedHost:
        if self._closed:
            from winstackers.cim.errors import TransportError
            raise TransportError(host=self.host, detail="the session is closed")
        return self.emulated_host

    def query(self, wql: str, namespace: str | None = None) -> list[Instance]:
        return self._live().query(wql, namespace)

    def get(self, ref: Reference) -> Instance:
        return self._live().get(ref)

    def associators(self, ref: Reference, *, assoc_class: str | None = None,
                    result_class: str | None = None, role: str | None = None,
                    result_role: str | None = None) -> list[Instance]:
        return self._live().associators(ref, assoc_class, result_class, role, result_role)

    def references(self, ref: Reference, *, result_class: str | None = None,
                   role: str | None = None) -> list[Instance]:
        return self._live().references(ref, result_class, role)

    def invoke(self, target: Reference, method: str,
               params: Mapping[str, Any] | None = None) -> MethodResult:
        encoded = {name: embedded.encode_parameter(value) for name, value in (params or {}).items()}
        return self._live().invoke(target, method, encoded)

    def create(self, instance: Instance) -> Reference:
        return self._live().create(instance)

    def modify(self, instance: Instance) -> Instance:
        return self._live().modify(instance)

    def delete(self, ref: Reference) -> None:
        self._live().delete(ref)

    def new_instance(self, class_name: str,
                     properties: Mapping[str, Any] | None = None) -> Instance:
        return self._live().new_instance(class_name, properties)

    def close(self) -> None:
        self._closed = True
