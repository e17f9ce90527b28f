"""Checking and converting method parameters and embedded instances.

Embedded instances arrive as CIM-XML text.  The emulator parses them,
refuses classes and properties it does not declare, and converts each value
to the declared CIM type, refusing values that do not fit (an unsigned
integer out of range, text where a number belongs): on Hyper-V those are
Invalid Parameter (4) or Incorrect data type (32776).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from winstackers.cim import embedded
from winstackers.cim.errors import InvalidParameter, NotFound
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv.methods import INVALID_PARAMETER, MethodError, MethodSpec

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

_UINT_BITS = {"uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}
_SINT_BITS = {"sint8": 8, "sint16": 16, "sint32": 32, "sint64": 64}


def convert(host: EmulatedHost, spec: MethodSpec, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters by their declared names, converted to their kinds.

    :raises InvalidParameter: an unknown parameter name (a malformed call).
    :raises MethodError: a value that does not fit its parameter (code 4).
    """
    names = {name.lower(): name for name in spec.params}
    args: dict[str, Any] = dict.fromkeys(spec.params)
    for given, value in raw.items():
        name = names.get(given.lower())
        if name is None:
            raise InvalidParameter(where=f"{spec.class_name}.{spec.name}",
                                   detail=f"no parameter named {given!r}")
        args[name] = _convert_one(host, spec, name, spec.params[name], value)
    return args


def _convert_one(host: EmulatedHost, spec: MethodSpec, name: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    where = f"{spec.name}({name})"
    if kind.endswith("[]"):
        if not isinstance(value, list | tuple):
            raise MethodError(INVALID_PARAMETER, f"{where}: expected an array")
        return [_convert_one(host, spec, name, kind[:-2], item) for item in value]
    if kind == "E":
        return parse_embedded(host, value, where)
    if kind == "R":
        return _reference(host, value, where)
    return coerce(value, kind, where)


def _reference(host: EmulatedHost, value: Any, where: str) -> Reference:
    if isinstance(value, Reference):
        return value
    if isinstance(value, str):
        try:
            return Reference.parse(value, host.namespace)
        except InvalidParameter as exc:
            raise MethodError(INVALID_PARAMETER, f"{where}: {exc}") from None
    raise MethodError(INVALID_PARAMETER, f"{where}: expected a reference, got {value!r}")


def parse_embedded(host: EmulatedHost, text: Any, where: str) -> Instance:
    """Parse and type-check an embedded instance against the schema."""
    if not isinstance(text, str):
        raise MethodError(INVALID_PARAMETER, f"{where}: expected embedded-instance text")
    try:
        parsed = embedded.from_text(text)
        cls = host.schema.get(parsed.class_name)
        props = {cls.canonical(n): coerce(v, cls.properties[cls.canonical(n)].type,
                                          f"{cls.name}.{n}")
                 for n, v in parsed.properties.items()}
    except (InvalidParameter, NotFound) as exc:
        raise MethodError(INVALID_PARAMETER, f"{where}: {exc}") from None
    return Instance(cls.name, props, None, cls.types())


def coerce(value: Any, cim_type: str, where: str) -> Any:
    """*value* converted to *cim_type*.

    :raises MethodError: code 4 when the value does not fit the type.
    """
    if value is None:
        return None
    if cim_type.endswith("[]"):
        if not isinstance(value, list):
            raise MethodError(INVALID_PARAMETER, f"{where}: expected an array")
        return [coerce(v, cim_type[:-2], where) for v in value]
    if cim_type in _UINT_BITS or cim_type in _SINT_BITS:
        return _integer(value, cim_type, where)
    if cim_type == "boolean":
        if isinstance(value, bool):
            return value
        raise MethodError(INVALID_PARAMETER, f"{where}: {value!r} is not a boolean")
    return value if cim_type == "reference" else str(value)


def _integer(value: Any, cim_type: str, where: str) -> int:
    if isinstance(value, bool):
        raise MethodError(INVALID_PARAMETER, f"{where}: {value!r} is not an integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise MethodError(INVALID_PARAMETER, f"{where}: {value!r} is not an integer") from None
    if cim_type in _UINT_BITS:
        low, high = 0, 2 ** _UINT_BITS[cim_type] - 1
    else:
        low, high = -(2 ** (_SINT_BITS[cim_type] - 1)), 2 ** (_SINT_BITS[cim_type] - 1) - 1
    if not low <= number <= high:
        raise MethodError(INVALID_PARAMETER, f"{where}: {number} is out of range for {cim_type}")
    return number
