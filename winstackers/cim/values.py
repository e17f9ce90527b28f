"""Typed CIM values: references (object paths) and read-only instances.

A :class:`Reference` names one instance: namespace, class and key
properties.  Its text form is the WMI object path used by Hyper-V in
string-typed "reference" properties such as ``HostResource`` and
``Parent``: ``root/virtualization/v2:Msvm_ComputerSystem.CreationClassName=
"Msvm_ComputerSystem",Name="..."`` (WMI object path syntax,
https://learn.microsoft.com/en-us/windows/win32/wmisdk/describing-a-class-object-path).

An :class:`Instance` is a snapshot: a class name, its properties and the
reference of the instance it was read from (``None`` for one built by the
caller).  It is never a live object; changing it means building a new one
with :meth:`Instance.replace` and handing that to the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from winstackers.cim.errors import InvalidParameter

#: CIM type names used by the embedded-instance text and the transports.
CIM_TYPES = frozenset({
    "string", "boolean", "char16", "datetime", "reference",
    "uint8", "uint16", "uint32", "uint64", "sint8", "sint16", "sint32", "sint64",
    "real32", "real64",
})


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Reference:
    """The identity of one CIM instance.

    Class and key names compare case-insensitively, as WMI does; key
    values compare exactly (Hyper-V keys are GUID-bearing strings).
    """

    namespace: str
    class_name: str
    keys: tuple[tuple[str, Any], ...]

    @classmethod
    def build(cls, namespace: str, class_name: str, keys: Mapping[str, Any]) -> Reference:
        """Build a reference, ordering the keys by name."""
        return cls(namespace, class_name, tuple(sorted(keys.items(), key=lambda kv: kv[0].lower())))

    def key(self, name: str) -> Any:
        """The value of key property *name* (case-insensitive).

        :raises KeyError: when the reference has no such key.
        """
        for key_name, value in self.keys:
            if key_name.lower() == name.lower():
                return value
        raise KeyError(name)

    @cached_property
    def _identity(self) -> tuple[str, str, tuple[tuple[str, Any], ...]]:
        return (self.namespace.lower().replace("\\", "/"), self.class_name.lower(),
                tuple((k.lower(), v) for k, v in self.keys))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reference):
            return NotImplemented
        return self._identity == other._identity

    def __hash__(self) -> int:
        return hash(self._identity)

    @property
    def path(self) -> str:
        """The WMI object path text of this reference."""
        keys = ",".join(f'{name}={_format_key(value)}' for name, value in self.keys)
        return f"{self.namespace}:{self.class_name}.{keys}"

    def __str__(self) -> str:
        return self.path

    @classmethod
    def parse(cls, text: str, default_namespace: str = "") -> Reference:
        """Parse a WMI object path (``[ns:]Class.Key="v",Key2=5``).

        :raises InvalidParameter: when *text* is not an object path.
        """
        match = _PATH_RE.match(text.strip())
        if not match:
            raise InvalidParameter(where="object path", detail=f"cannot parse {text!r}")
        namespace = match.group("ns") or default_namespace
        # A full path starts with the server: \\SERVER\root\... (or //SERVER/...).
        namespace = re.sub(r"^(\\\\|//)[^\\/]+[\\/]", "", namespace).lstrip("\\/")
        keys = _parse_keys(match.group("keys"), text)
        return cls.build(namespace.replace("\\", "/"), match.group("cls"), keys)


_PATH_RE = re.compile(
    r"^(?:(?P<ns>[^:\"=]+):)?(?P<cls>[A-Za-z_][A-Za-z0-9_]*)\.(?P<keys>.+)$", re.S)
_KEY_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]+)\s*(?:,|$)', re.S)


def _format_key(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return f'"{_escape(str(value))}"'


def _parse_keys(text: str, whole: str) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    pos = 0
    while pos < len(text):
        match = _KEY_RE.match(text, pos)
        if not match or match.end() == pos:
            raise InvalidParameter(where="object path", detail=f"bad key list in {whole!r}")
        raw = match.group(2).strip()
        keys[match.group(1)] = _unquote(raw) if raw.startswith('"') else _key_literal(raw)
        pos = match.end()
    return keys


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1], flags=re.S)


def _key_literal(raw: str) -> Any:
    if raw.upper() in ("TRUE", "FALSE"):
        return raw.upper() == "TRUE"
    try:
        return int(raw)
    except ValueError:
        return raw


class _CaseInsensitiveView(Mapping[str, Any]):
    """A read-only mapping whose keys are looked up case-insensitively."""

    __slots__ = ("_data", "_index")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)
        self._index = {name.lower(): name for name in self._data}

    def __getitem__(self, name: str) -> Any:
        return self._data[self._index[name.lower()]]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def canonical(self, name: str) -> str:
        """The property name as the class spells it."""
        return self._index.get(name.lower(), name)


@dataclass(frozen=True)
class Instance:
    """A read-only snapshot of one CIM instance.

    ``properties`` maps property names to Python values: ``str``, ``bool``,
    ``int``, ``float``, ``None``, :class:`Reference` or lists of those.
    ``cim_types`` gives each property's CIM type where it is known (a
    ``[]`` suffix marks an array); transports use it to serialise.
    """

    class_name: str
    properties: Mapping[str, Any]
    path: Reference | None = None
    cim_types: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.properties, _CaseInsensitiveView):
            object.__setattr__(self, "properties", _CaseInsensitiveView(self.properties))
        if not isinstance(self.cim_types, _CaseInsensitiveView):
            object.__setattr__(self, "cim_types", _CaseInsensitiveView(self.cim_types))

    def __getitem__(self, name: str) -> Any:
        return self.properties[name]

    def get(self, name: str, default: Any = None) -> Any:
        """The value of property *name* (case-insensitive), or *default*."""
        return self.properties.get(name, default)

    def replace(self, **changes: Any) -> Instance:
        """A copy with some properties changed; the reference is kept.

        :raises InvalidParameter: when a changed property is not one of the
            instance's properties (a misspelt name must not pass silently).
        """
        props = dict(self.properties)
        view = self.properties
        assert isinstance(view, _CaseInsensitiveView)
        for name, value in changes.items():
            if name not in view:
                raise InvalidParameter(where=self.class_name, detail=f"no property {name!r}")
            props[view.canonical(name)] = value
        return Instance(self.class_name, props, self.path, self.cim_types)

    def __repr__(self) -> str:
        return f"<Instance {self.class_name} {self.path or '(new)'}>"
