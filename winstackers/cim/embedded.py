"""Embedded-instance text: CIM-XML (DMTF DSP0201) ``<INSTANCE>`` documents.

Hyper-V's management methods take settings as strings that hold one
embedded instance each (``SystemSettings``, ``ResourceSettings``,
``FeatureSettings``; see e.g.
https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/addresourcesettings-msvm-virtualsystemmanagementservice)
and report errors as embedded ``Msvm_Error`` in "CIM-XML format"
(https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/geterror-msvm-concretejob).
The same text travels over every transport, so one encoder and one decoder
live here.

Encoding: ``<INSTANCE CLASSNAME="C">`` with one ``<PROPERTY NAME TYPE>``
(scalar, ``<VALUE>`` child) or ``<PROPERTY.ARRAY NAME TYPE>`` (array,
``<VALUE.ARRAY>`` of ``<VALUE>``) per property; a null property has no
value element.  Booleans are ``TRUE``/``FALSE``.  Not supported: embedded
objects inside embedded objects, and ``PROPERTY.REFERENCE`` (Hyper-V's
settings carry references as object-path strings).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from winstackers.cim.errors import InvalidParameter
from winstackers.cim.values import CIM_TYPES, Instance

_INT_TYPES = frozenset(t for t in CIM_TYPES if t[1:].startswith("int") or t.startswith("uint")
                       or t.startswith("sint"))


def infer_type(value: Any) -> str:
    """The CIM type a Python value is sent as when its class gives none."""
    if isinstance(value, list):
        return (infer_type(value[0]) if value else "string") + "[]"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "sint64"
    if isinstance(value, float):
        return "real64"
    return "string"


def _format(value: Any, cim_type: str) -> str:
    if cim_type == "boolean":
        return "TRUE" if value else "FALSE"
    return str(value)


_SPECIAL = re.compile(r'[&<>"\r]')


def _escape(text: str) -> str:
    # Carriage returns become a character reference: an XML parser would
    # turn a raw one into a line feed and Windows line ends would be lost.
    if not _SPECIAL.search(text):
        return text
    return xml_escape(text, {'"': "&quot;", "\r": "&#13;"})


def _values(values: list[Any], cim_type: str) -> str:
    return "".join(f"<VALUE>{_escape(_format(v, cim_type))}</VALUE>" for v in values)


def _property(name: str, value: Any, cim_type: str) -> str:
    is_array = cim_type.endswith("[]") or isinstance(value, list)
    base = cim_type.removesuffix("[]")
    head = f'NAME="{_escape(name)}" TYPE="{base}"'
    if is_array:
        body = "" if value is None else f"<VALUE.ARRAY>{_values(value, base)}</VALUE.ARRAY>"
        return f"<PROPERTY.ARRAY {head}>{body}</PROPERTY.ARRAY>"
    body = "" if value is None else _values([value], base)
    return f"<PROPERTY {head}>{body}</PROPERTY>"


def to_text(instance: Instance) -> str:
    """Encode *instance* as embedded-instance text (CIM-XML)."""
    parts = [_property(name, value, instance.cim_types.get(name) or infer_type(value))
             for name, value in instance.properties.items()]
    return f'<INSTANCE CLASSNAME="{_escape(instance.class_name)}">{"".join(parts)}</INSTANCE>'


def _parse_scalar(text: str | None, cim_type: str, where: str) -> Any:
    text = text or ""
    if cim_type == "boolean":
        if text.upper() not in ("TRUE", "FALSE"):
            raise InvalidParameter(where=where, detail=f"{text!r} is not a boolean")
        return text.upper() == "TRUE"
    if cim_type in _INT_TYPES:
        try:
            return int(text)
        except ValueError:
            raise InvalidParameter(where=where, detail=f"{text!r} is not an integer") from None
    if cim_type in ("real32", "real64"):
        return float(text)
    return text


def _parse_property(elem: ET.Element, class_name: str) -> tuple[str, Any, str]:
    name = elem.get("NAME")
    cim_type = (elem.get("TYPE") or "string").lower()
    if not name or cim_type not in CIM_TYPES:
        raise InvalidParameter(where=f"embedded {class_name}",
                               detail=f"property element with NAME={name!r} TYPE={cim_type!r}")
    where = f"{class_name}.{name}"
    if elem.tag == "PROPERTY.ARRAY":
        array = elem.find("VALUE.ARRAY")
        if array is None:
            return name, None, cim_type + "[]"
        return name, [_parse_scalar(v.text, cim_type, where) for v in array.findall("VALUE")], \
            cim_type + "[]"
    value = elem.find("VALUE")
    return name, None if value is None else _parse_scalar(value.text, cim_type, where), cim_type


def from_text(text: str) -> Instance:
    """Decode embedded-instance text into an :class:`Instance` (no reference).

    :raises InvalidParameter: when *text* is not a well-formed ``INSTANCE``.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InvalidParameter(where="embedded instance", detail=f"not XML: {exc}") from None
    if root.tag != "INSTANCE" or not root.get("CLASSNAME"):
        raise InvalidParameter(where="embedded instance",
                               detail=f"root element is {root.tag!r}, "
                                      "expected INSTANCE with CLASSNAME")
    class_name = root.get("CLASSNAME", "")
    props: dict[str, Any] = {}
    types: dict[str, str] = {}
    for elem in root:
        if elem.tag not in ("PROPERTY", "PROPERTY.ARRAY"):
            raise InvalidParameter(where=f"embedded {class_name}",
                                   detail=f"unsupported element {elem.tag!r}")
        name, value, cim_type = _parse_property(elem, class_name)
        props[name] = value
        types[name] = cim_type
    return Instance(class_name, props, None, types)


def is_embedded_text(value: Any) -> bool:
    """Whether *value* looks like embedded-instance text."""
    return isinstance(value, str) and value.lstrip().startswith("<INSTANCE")


def types_of(instance: Instance) -> Mapping[str, str]:
    """The CIM type of every property of *instance*, inferring missing ones."""
    return {name: instance.cim_types.get(name) or infer_type(value)
            for name, value in instance.properties.items()}


def encode_parameter(value: Any) -> Any:
    """A method parameter as it travels: instances (and lists of them)
    become embedded-instance text; other values are unchanged."""
    if isinstance(value, Instance):
        return to_text(value)
    if isinstance(value, list | tuple):
        return [encode_parameter(item) for item in value]
    return value
