"""The local transport: WMI on the Windows host itself, through PyMI.

PyMI's ``mi`` module wraps Microsoft's Management Infrastructure API
(https://learn.microsoft.com/en-us/previous-versions/windows/desktop/wmi_v2/mi-api):
``mi.Application()``, ``create_session()``, ``exec_query``,
``get_instance``, ``get_associators``, ``get_references``,
``invoke_method`` with ``create_method_params``, each returning an operation
whose ``get_next_instance()`` yields results (PyMI's README,
https://github.com/cloudbase/PyMI).  This module only converts between
those objects and the seam's values; it is imported only where ``mi`` is
(Windows), and its tests use a stand-in ``mi`` module.

Values: an element's MI type gives its CIM type (``MI_UINT16`` ->
``uint16``, an ``...A`` suffix marks an array); a reference arrives as an
instance and becomes a :class:`Reference` through its path; an embedded
instance becomes an :class:`Instance`.  Errors (``mi.error`` carrying
``error_code`` and ``message``) become the seam's typed errors through the
WMI error codes (:mod:`winstackers.cim.wmi_codes`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from winstackers.cim import embedded, errors, wmi_codes
from winstackers.cim.api import HYPERV_NAMESPACE, MethodResult, Session
from winstackers.cim.values import Instance, Reference

T = TypeVar("T")
#: Not part of Hyper-V's output: the emulator's stand-in ``mi`` module adds
#: its error text under this name, as the WS-Man server does in its own
#: namespace; a real host sends none and the element is simply absent.
_DESCRIPTION = "WinstackersErrorDescription"
_SCALARS = ("BOOLEAN", "UINT8", "SINT8", "UINT16", "SINT16", "UINT32", "SINT32", "UINT64",
            "SINT64", "REAL32", "REAL64", "CHAR16", "DATETIME", "STRING", "REFERENCE",
            "INSTANCE")


def _type_names(mi: Any) -> dict[int, str]:
    """MI type constant -> CIM type name (``[]`` for the array types)."""
    names: dict[int, str] = {}
    for scalar in _SCALARS:
        cim = scalar.lower().replace("instance", "object")
        for suffix, mark in (("", ""), ("A", "[]")):
            constant = getattr(mi, f"MI_{scalar}{suffix}", None)
            if constant is not None:
                names[constant] = cim + mark
    return names


class MiSession(Session):
    """A session on the local host's WMI through PyMI's ``mi`` module."""

    def __init__(self, mi: Any, *, namespace: str = HYPERV_NAMESPACE,
                 protocol: str | None = None, computer_name: str = ".") -> None:
        self._mi = mi
        self._types = _type_names(mi)
        self._app = mi.Application()
        self._session = self._app.create_session(
            computer_name=computer_name,
            protocol=protocol or getattr(mi, "PROTOCOL_WMIDCOM", "WMIDCOM"))
        self._classes: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self.host = computer_name if computer_name != "." else "localhost"
        self.namespace = namespace

    # -- plumbing ---------------------------------------------------------------
    def _run(self, what: str, action: Callable[[], T]) -> T:
        mi_error: type[BaseException] = self._mi.error
        try:
            return action()
        except mi_error as exc:
            detail = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
            message = f"{what}: {detail.get('message') or exc}"
            timeout: type[BaseException] | None = getattr(self._mi, "timeouterror", None)
            if timeout is not None and isinstance(exc, timeout):
                raise errors.Timeout(what=what, seconds="the operation timeout") from exc
            raise wmi_codes.error_for_code(detail.get("error_code"), message, self.host) \
                from exc

    def _results(self, operation: Any) -> Iterator[Any]:
        with operation as op:
            item = op.get_next_instance()
            while item is not None:
                yield item.clone()
                item = op.get_next_instance()

    def _class(self, namespace: str, class_name: str) -> Any:
        key = (namespace.lower(), class_name.lower())
        with self._lock:
            if key not in self._classes:
                with self._session.get_class(ns=namespace, class_name=class_name) as op:
                    found = op.get_next_class()
                if found is None:
                    raise errors.NotFound(what=f"class {class_name!r} in {namespace}")
                self._classes[key] = found.clone()
            return self._classes[key]

    def _key_instance(self, ref: Reference) -> Any:
        cls = self._class(ref.namespace, ref.class_name)
        key = self._app.create_instance_from_class(ref.class_name, cls)
        for name, value in ref.keys:
            key[name] = self._key_instance(value) if isinstance(value, Reference) else value
        return key

    # -- conversion -------------------------------------------------------------
    def _instance(self, item: Any, path: Reference | None = None) -> Instance:
        values: dict[str, Any] = {}
        types: dict[str, str] = {}
        for index in range(len(item)):
            name, mi_type, value = item.get_element(index)
            cim_type = self._types.get(mi_type, "string")
            values[name] = self._value(value, cim_type)
            types[name] = cim_type
        if path is None and item.get_path():
            path = Reference.parse(item.get_path(), self.namespace)
        return Instance(item.get_class_name(), values, path, types)

    def _value(self, value: Any, cim_type: str) -> Any:
        if value is None:
            return None
        base = cim_type.removesuffix("[]")
        if cim_type.endswith("[]"):
            return [self._value(v, base) for v in value]
        if base == "reference":
            return Reference.parse(value.get_path(), self.namespace)
        if base == "object":
            return self._instance(value)
        return value

    def _mi_value(self, value: Any) -> Any:
        if isinstance(value, Reference):
            return self._key_instance(value)
        if isinstance(value, Instance):
            return embedded.to_text(value)
        if isinstance(value, list | tuple):
            return [self._mi_value(v) for v in value]
        return value

    # -- the session protocol --------------------------------------------------------
    def query(self, wql: str, namespace: str | None = None) -> list[Instance]:
        ns = namespace or self.namespace
        return self._run(f"query {wql!r}", lambda: [
            self._instance(i) for i in self._results(self._session.exec_query(ns=ns, query=wql))])

    def get(self, ref: Reference) -> Instance:
        def fetch() -> Instance:
            found = list(self._results(self._session.get_instance(ref.namespace,
                                                                  self._key_instance(ref))))
            if not found:
                raise errors.NotFound(what=f"instance {ref}")
            return self._instance(found[0], ref)
        return self._run(f"get {ref}", fetch)

    def associators(self, ref: Reference, *, assoc_class: str | None = None,
                    result_class: str | None = None, role: str | None = None,
                    result_role: str | None = None) -> list[Instance]:
        def fetch() -> list[Instance]:
            op = self._session.get_associators(
                ns=ref.namespace, instance=self._key_instance(ref), assoc_class=assoc_class or "",
                result_class=result_class or "", role=role or "", result_role=result_role or "")
            return [self._instance(i) for i in self._results(op)]
        return self._run(f"associators of {ref}", fetch)

    def references(self, ref: Reference, *, result_class: str | None = None,
                   role: str | None = None) -> list[Instance]:
        def fetch() -> list[Instance]:
            op = self._session.get_references(ns=ref.namespace, instance=self._key_instance(ref),
                                              result_class=result_class or "", role=role or "")
            return [self._instance(i) for i in self._results(op)]
        return self._run(f"references of {ref}", fetch)

    def invoke(self, target: Reference, method: str,
               params: Mapping[str, Any] | None = None) -> MethodResult:
        def run() -> MethodResult:
            cls = self._class(target.namespace, target.class_name)
            mi_params = self._app.create_method_params(cls, method)
            for name, value in (params or {}).items():
                if value is not None:
                    mi_params[name] = self._mi_value(value)
            op = self._session.invoke_method(self._key_instance(target), method, mi_params)
            result = next(self._results(op))
            out = self._instance(result, None).properties
            values = {k: v for k, v in out.items() if k not in ("ReturnValue", _DESCRIPTION)}
            return MethodResult(int(out.get("ReturnValue") or 0), values, out.get(_DESCRIPTION))
        return self._run(f"{method} on {target.class_name}", run)

    def create(self, instance: Instance) -> Reference:
        def run() -> Reference:
            item = self._from_instance(instance)
            self._session.create_instance(self.namespace, item)
            return Reference.parse(item.get_path(), self.namespace)
        return self._run(f"create {instance.class_name}", run)

    def modify(self, instance: Instance) -> Instance:
        self._run(f"modify {instance.class_name}", lambda: self._session.modify_instance(
            self.namespace, self._from_instance(instance)))
        return instance

    def delete(self, ref: Reference) -> None:
        self._run(f"delete {ref}", lambda: self._session.delete_instance(
            ref.namespace, self._key_instance(ref)))

    def new_instance(self, class_name: str,
                     properties: Mapping[str, Any] | None = None) -> Instance:
        def run() -> Instance:
            item = self._app.create_instance_from_class(
                class_name, self._class(self.namespace, class_name))
            fresh = self._instance(item, None)
            return fresh.replace(**dict(properties or {})) if properties else fresh
        return self._run(f"new {class_name}", run)

    def _from_instance(self, instance: Instance) -> Any:
        item = self._app.create_instance_from_class(
            instance.class_name, self._class(self.namespace, instance.class_name))
        for name, value in instance.properties.items():
            item[name] = self._mi_value(value)
        return item

    def close(self) -> None:
        self._session = None
        self._app = None
