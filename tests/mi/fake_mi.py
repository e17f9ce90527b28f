"""A stand-in for PyMI's ``mi`` module, backed by the emulated host.

It follows the API PyMI documents and its ``wmi`` layer uses
(https://github.com/cloudbase/PyMI: ``Application``, ``create_session``,
``exec_query``, ``get_class``, ``get_instance``, ``get_associators``,
``get_references``, ``create_instance_from_class``,
``create_method_params``, ``invoke_method``; operations as context managers
with ``get_next_instance``/``get_next_class``; instances with ``len``,
``get_element``, item access, ``clone``, ``get_path``, ``get_class_name``;
``mi.error`` carrying ``{"error_code", "message"}``).  Windows is needed for
the real module; this lets the transport's mapping run here against real
host behaviour.  Set :data:`HOST` before creating a session.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from winstackers.cim import embedded, mof, wmi_codes
from winstackers.cim.errors import CimError
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv.host import EmulatedHost

PROTOCOL_WMIDCOM = "WMIDCOM"
PROTOCOL_WINRM = "WINRM"
_NAMES = ("BOOLEAN", "UINT8", "SINT8", "UINT16", "SINT16", "UINT32", "SINT32", "UINT64", "SINT64",
          "REAL32", "REAL64", "CHAR16", "DATETIME", "STRING", "REFERENCE", "INSTANCE")
for _index, _name in enumerate(_NAMES):
    globals()[f"MI_{_name}"] = _index
    globals()[f"MI_{_name}A"] = _index + 16
_CODES = {name.lower().replace("instance", "object"): index for index, name in enumerate(_NAMES)}

HOST: EmulatedHost | None = None


class error(Exception):  # noqa: N801 - PyMI's name
    """An MI error: ``args[0]`` is ``{"error_code": int, "message": str}``."""


class timeouterror(error):  # noqa: N801
    """An MI operation timed out."""


def _mi_type(cim_type: str) -> int:
    base = cim_type.removesuffix("[]")
    code = _CODES.get(base, _CODES["string"])
    return code + 16 if cim_type.endswith("[]") else code


class MiItem:
    """An MI instance, class or parameter set."""

    def __init__(self, class_name: str, values: dict[str, Any], types: dict[str, int],
                 path: str = "") -> None:
        self._class_name, self._values, self._types, self._path = (
            class_name, dict(values), dict(types), path)

    def __len__(self) -> int:
        return len(self._values)

    def get_element(self, key: int | str) -> tuple[str, int, Any]:
        name = list(self._values)[key] if isinstance(key, int) else self._canonical(key)
        return name, self._types.get(name, _CODES["string"]), self._values[name]

    def _canonical(self, key: str) -> str:
        for name in self._values:
            if name.lower() == key.lower():
                return name
        raise error({"error_code": wmi_codes.WBEM_E_NOT_FOUND, "message": f"no element {key}"})

    def __getitem__(self, key: str) -> Any:
        return self.get_element(key)[2]

    def __setitem__(self, key: str, value: Any) -> None:
        if not any(name.lower() == key.lower() for name in self._values):
            raise error({"error_code": wmi_codes.WBEM_E_INVALID_PARAMETER,
                         "message": f"{self._class_name} has no element {key!r}"})
        self._values[self._canonical(key)] = value

    def clone(self) -> MiItem:
        return MiItem(self._class_name, self._values, self._types, self._path)

    def get_class_name(self) -> str:
        return self._class_name

    def get_path(self) -> str:
        return self._path

    def keys_reference(self) -> Reference:
        """The reference this (key) instance names."""
        cls = mof.SCHEMA.get(self._class_name)
        keys = {k: _from_mi(self._values[k]) for k in cls.keys}
        return Reference.build(cls.namespace, cls.name, keys)


def _to_mi(value: Any, cim_type: str) -> Any:
    if isinstance(value, list):
        return [_to_mi(v, cim_type.removesuffix("[]")) for v in value]
    if isinstance(value, Reference):
        return MiItem(value.class_name, dict(value.keys), {}, value.path)
    if isinstance(value, Instance):
        return _item(value)
    return value


def _from_mi(value: Any) -> Any:
    if isinstance(value, MiItem):
        return value.keys_reference()
    if isinstance(value, list):
        return [_from_mi(v) for v in value]
    return value


def _item(instance: Instance) -> MiItem:
    types = {name: _mi_type(instance.cim_types.get(name) or embedded.infer_type(value))
             for name, value in instance.properties.items()}
    values = {name: _to_mi(value, instance.cim_types.get(name) or "string")
              for name, value in instance.properties.items()}
    return MiItem(instance.class_name, values, types,
                  instance.path.path if instance.path else "")


class Operation:
    """Results of one call, read with ``get_next_instance``."""

    def __init__(self, results: list[MiItem]) -> None:
        self._results: Iterator[MiItem] = iter(results)

    def __enter__(self) -> Operation:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def get_next_instance(self) -> MiItem | None:
        return next(self._results, None)

    get_next_class = get_next_instance


def _host_call(action: Any) -> Any:
    try:
        return action()
    except CimError as exc:
        code, _ = wmi_codes.code_for_error(exc)
        raise error({"error_code": code, "message": str(exc)}) from exc


class Session:
    """An MI session on :data:`HOST`."""

    def __init__(self, host: EmulatedHost) -> None:
        self._host = host

    def exec_query(self, ns: str, query: str) -> Operation:
        return Operation([_item(i) for i in _host_call(lambda: self._host.query(query, ns))])

    def get_class(self, ns: str, class_name: str) -> Operation:
        cls = _host_call(lambda: mof.SCHEMA.get(class_name))
        types = {name: _mi_type(prop.type) for name, prop in cls.properties.items()}
        return Operation([MiItem(cls.name, cls.defaults(), types)])

    def get_instance(self, ns: str, key: MiItem) -> Operation:
        return Operation([_item(_host_call(lambda: self._host.get(key.keys_reference())))])

    def get_associators(self, ns: str, instance: MiItem, assoc_class: str = "",
                        result_class: str = "", role: str = "",
                        result_role: str = "") -> Operation:
        found = _host_call(lambda: self._host.associators(
            instance.keys_reference(), assoc_class or None, result_class or None, role or None,
            result_role or None))
        return Operation([_item(i) for i in found])

    def get_references(self, ns: str, instance: MiItem, result_class: str = "",
                       role: str = "") -> Operation:
        found = _host_call(lambda: self._host.references(
            instance.keys_reference(), result_class or None, role or None))
        return Operation([_item(i) for i in found])

    def invoke_method(self, target: MiItem, method: str, params: MiItem) -> Operation:
        given = {params.get_element(i)[0]: _from_mi(params.get_element(i)[2])
                 for i in range(len(params)) if params.get_element(i)[2] is not None}
        result = _host_call(lambda: self._host.invoke(target.keys_reference(), method, given))
        declared = mof.method_params(target.get_class_name(), method)
        kinds = declared.outputs if declared else {}
        values = {"ReturnValue": result.return_value, **result.out}
        types = {"ReturnValue": _CODES["uint32"]}
        if result.error_description:
            values["WinstackersErrorDescription"] = result.error_description
        types.update({k: _mi_type(_kind_type(kinds.get(k, "string"))) for k in result.out})
        return Operation([MiItem("__PARAMETERS", {k: _to_mi(v, "string") for k, v in
                                                  values.items()}, types)])

    def create_instance(self, ns: str, instance: MiItem) -> None:
        _host_call(lambda: self._host.create(Instance(instance.get_class_name(), {})))

    def modify_instance(self, ns: str, instance: MiItem) -> None:
        _host_call(lambda: self._host.modify(Instance(instance.get_class_name(), {})))

    def delete_instance(self, ns: str, instance: MiItem) -> None:
        _host_call(lambda: self._host.delete(instance.keys_reference()))


def _kind_type(kind: str) -> str:
    array = "[]" if kind.endswith("[]") else ""
    base = kind.removesuffix("[]")
    return {"R": "reference", "I": "object", "E": "string"}.get(base, base) + array


class Application:
    """``mi.Application``."""

    def create_session(self, computer_name: str = ".", protocol: str = PROTOCOL_WMIDCOM,
                       destination_options: Any = None) -> Session:
        assert HOST is not None, "set fake_mi.HOST first"
        return Session(HOST)

    def create_instance_from_class(self, class_name: str, cls: MiItem) -> MiItem:
        return cls.clone()

    def create_method_params(self, cls: MiItem, method: str) -> MiItem:
        params = mof.method_params(cls.get_class_name(), method)
        if params is None:
            documented = mof.SCHEMA.get(cls.get_class_name()).not_emulated
            if method.lower() not in (m.lower() for m in documented):
                raise error({"error_code": wmi_codes.WBEM_E_INVALID_METHOD,
                             "message": f"{cls.get_class_name()} has no method {method}"})
            return MiItem("__PARAMETERS", {}, {})
        return MiItem("__PARAMETERS", dict.fromkeys(params.inputs),
                      {k: _mi_type(_kind_type(v)) for k, v in params.inputs.items()})
