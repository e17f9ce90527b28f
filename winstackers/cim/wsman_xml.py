"""WMI over WS-Management: the XML shapes, both ways.

One module encodes and decodes what crosses the wire, for the WS-Man client
transport and for the emulated host's WS-Man server, following Microsoft's
WS-Management protocol extensions ([MS-WSMV],
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/):

- resource URIs ``http://schemas.microsoft.com/wbem/wsman/1/wmi/<namespace>/<Class>``
  (MS-WSMV 3.1.4.1.1);
- an instance is an element named after its class, in the class's resource
  URI namespace, typed ``xsi:type="p:<Class>_Type"``, one child per property
  in alphabetical order, ``xsi:nil="true"`` for null, arrays as repeated
  elements (MS-WSMV 3.1.4.1.26 and the captures it describes);
- a reference is an endpoint reference: ``a:Address`` (the anonymous role)
  and ``a:ReferenceParameters`` holding ``w:ResourceURI`` and
  ``w:SelectorSet`` with one ``w:Selector Name=...`` per key;
- a method call is a custom action ``<class URI>/<Method>`` whose body is
  ``<p:<Method>_INPUT>`` and whose answer is ``<p:<Method>_OUTPUT>`` with
  ``p:ReturnValue`` (MS-WSMV 3.1.4.1.32, 4.1.4).  A REF parameter holds the
  EPR's children directly; a string parameter holding an embedded instance
  carries its CIM-XML text.

Property and parameter types cannot be read off the wire; a
:class:`Catalog` (the class declarations of :mod:`winstackers.cim.mof`)
supplies them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from winstackers.cim.errors import InvalidParameter
from winstackers.cim.values import Instance, Reference

S = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
WSEN = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
WXF = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CIM = "http://schemas.dmtf.org/wbem/wscim/1/common"
WSMANFAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
WMI_BASE = "http://schemas.microsoft.com/wbem/wsman/1/wmi/"
WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
#: Elements only the served emulator sends (extended error text).
EMULATOR = "urn:winstackers:emulator"

ENUMERATE = f"{WSEN}/Enumerate"
PULL = f"{WSEN}/Pull"
RELEASE = f"{WSEN}/Release"
GET = f"{WXF}/Get"
PUT = f"{WXF}/Put"
CREATE = f"{WXF}/Create"
DELETE = f"{WXF}/Delete"

_INTEGER_TYPES = frozenset({"uint8", "uint16", "uint32", "uint64",
                            "sint8", "sint16", "sint32", "sint64"})


class Catalog(Protocol):
    """What the codec needs to know about classes and methods."""

    def property_types(self, class_name: str) -> Mapping[str, str]:
        """Property name -> CIM type (``[]`` for arrays); empty if unknown."""

    def key_names(self, class_name: str) -> tuple[str, ...]:
        """The key properties of the class; empty if unknown."""

    def parameter_kinds(self, class_name: str, method: str,
                        direction: str) -> Mapping[str, str]:
        """Parameter name -> kind (``E``, ``E[]``, ``R``, ``R[]``, ``I[]`` for
        instance-typed arrays, or a CIM type) for ``in`` or ``out``."""


def q(ns: str, tag: str) -> str:
    """A qualified ElementTree tag."""
    return f"{{{ns}}}{tag}"


def resource_uri(namespace: str, class_name: str) -> str:
    """The WMI resource URI of a class (``*`` when the filter names it)."""
    return f"{WMI_BASE}{namespace.replace(chr(92), '/').strip('/')}/{class_name}"


def split_resource_uri(uri: str) -> tuple[str, str]:
    """(namespace, class) of a WMI resource URI.

    :raises InvalidParameter: when *uri* is not under the WMI prefix.
    """
    if not uri.lower().startswith(WMI_BASE.lower()):
        raise InvalidParameter(where="resource URI", detail=f"{uri!r} is not a WMI resource URI")
    rest = uri[len(WMI_BASE):].strip("/")
    namespace, _, class_name = rest.rpartition("/")
    return namespace, class_name


# -- values -----------------------------------------------------------------
def format_scalar(value: Any) -> str:
    """A scalar as WS-Man text (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_scalar(text: str | None, cim_type: str) -> Any:
    """WS-Man text as a value of *cim_type* (strings when unknown)."""
    text = text or ""
    base = cim_type.removesuffix("[]")
    if base == "boolean":
        return text.strip().lower() == "true"
    if base in _INTEGER_TYPES:
        return int(text)
    if base in ("real32", "real64"):
        return float(text)
    return text


# -- references ---------------------------------------------------------------
def epr_children(parent: ET.Element, ref: Reference) -> ET.Element:
    """Append an EPR's Address and ReferenceParameters to *parent*."""
    ET.SubElement(parent, q(WSA, "Address")).text = ANONYMOUS
    params = ET.SubElement(parent, q(WSA, "ReferenceParameters"))
    ET.SubElement(params, q(WSMAN, "ResourceURI")).text = resource_uri(ref.namespace,
                                                                        ref.class_name)
    selectors = ET.SubElement(params, q(WSMAN, "SelectorSet"))
    for name, value in ref.keys:
        selector = ET.SubElement(selectors, q(WSMAN, "Selector"), Name=name)
        if isinstance(value, Reference):
            epr_children(ET.SubElement(selector, q(WSA, "EndpointReference")), value)
        else:
            selector.text = format_scalar(value)
    return parent


def is_epr(elem: ET.Element) -> bool:
    """Whether *elem* holds an endpoint reference."""
    return elem.find(q(WSA, "ReferenceParameters")) is not None


def parse_epr(elem: ET.Element, catalog: Catalog | None = None) -> Reference:
    """The reference an EPR (or an element holding its children) names.

    :raises InvalidParameter: when the EPR has no resource URI.
    """
    params = elem.find(q(WSA, "ReferenceParameters"))
    uri = params.find(q(WSMAN, "ResourceURI")) if params is not None else None
    if params is None or uri is None or not uri.text:
        raise InvalidParameter(where="endpoint reference", detail="no ResourceURI")
    namespace, class_name = split_resource_uri(uri.text)
    return Reference.build(namespace, class_name, parse_selectors(params.find(q(WSMAN,
                                                                               "SelectorSet")),
                                                                  class_name, catalog))


def parse_selectors(selector_set: ET.Element | None, class_name: str,
                    catalog: Catalog | None) -> dict[str, Any]:
    """Selector name -> value (typed by the catalog where it knows the key)."""
    types = catalog.property_types(class_name) if catalog else {}
    keys: dict[str, Any] = {}
    for selector in [] if selector_set is None else selector_set.findall(q(WSMAN, "Selector")):
        name = selector.get("Name", "")
        nested = selector.find(q(WSA, "EndpointReference"))
        if nested is not None:
            keys[name] = parse_epr(nested, catalog)
        else:
            keys[name] = parse_scalar(selector.text, types.get(name, "string"))
    return keys


# -- instances ------------------------------------------------------------------
def instance_element(instance: Instance, namespace: str, tag: str | None = None) -> ET.Element:
    """An instance as a WS-Man element (properties sorted, nulls as nil)."""
    uri = resource_uri(namespace, instance.class_name)
    elem = ET.Element(q(uri, tag or instance.class_name))
    elem.set(q(XSI, "type"), f"p:{instance.class_name}_Type")
    for name in sorted(instance.properties, key=str.lower):
        _property_elements(elem, uri, name, instance.properties[name], namespace)
    return elem


def _property_elements(parent: ET.Element, uri: str, name: str, value: Any,
                       namespace: str) -> None:
    if value is None:
        ET.SubElement(parent, q(uri, name)).set(q(XSI, "nil"), "true")
        return
    for item in value if isinstance(value, list) else [value]:
        child = ET.SubElement(parent, q(uri, name))
        if isinstance(item, Reference):
            epr_children(child, item)
        elif isinstance(item, Instance):
            child.append(instance_element(item, namespace))
        else:
            child.text = format_scalar(item)


def parse_instance(elem: ET.Element, catalog: Catalog, path: Reference | None = None,
                   namespace: str = "", *, selected: Collection[str] | None = None) -> Instance:
    """An instance element as an :class:`Instance` (typed by the catalog).

    Properties the catalog marks as arrays are lists even with one item.
    An empty array has no element on the wire (a null one is one nil
    element), so a declared array property without elements is an empty
    list: any of them in a whole instance, only the *selected* ones in a
    select-list fragment.
    """
    uri, _, local = elem.tag[1:].partition("}") if elem.tag.startswith("{") else ("", "", elem.tag)
    class_name = split_resource_uri(uri)[1] if uri.startswith(WMI_BASE) else local
    namespace = namespace or (split_resource_uri(uri)[0] if uri.startswith(WMI_BASE) else "")
    types = catalog.property_types(class_name)
    values: dict[str, Any] = {}
    for child in elem:
        name = child.tag.rpartition("}")[2]
        values.setdefault(name, []).append(_child_value(child, types.get(name, "string"),
                                                        catalog, namespace))
    props = {name: _collapse(items, types.get(name, "string")) for name, items in values.items()}
    present = {name.lower() for name in props}
    wanted = None if selected is None else {name.lower() for name in selected}
    props.update({name: [] for name, cim_type in types.items()
                  if cim_type.endswith("[]") and name.lower() not in present
                  and (wanted is None or name.lower() in wanted)})
    return Instance(class_name, props, path, dict(types))


def _child_value(child: ET.Element, cim_type: str, catalog: Catalog, namespace: str) -> Any:
    if child.get(q(XSI, "nil")) == "true":
        return None
    if is_epr(child):
        return parse_epr(child, catalog)
    nested = list(child)
    if nested and nested[0].get(q(XSI, "type")):
        return parse_instance(nested[0], catalog, namespace=namespace)
    datetime = child.find(q(CIM, "Datetime"))
    return datetime.text if datetime is not None else parse_scalar(child.text, cim_type)


def _collapse(items: list[Any], cim_type: str) -> Any:
    if cim_type.endswith("[]"):
        return None if items == [None] else [i for i in items if i is not None]
    return items[0] if len(items) == 1 else items


def instance_path(instance: Instance, catalog: Catalog, namespace: str) -> Reference | None:
    """The reference of *instance* built from its key properties, if known."""
    keys = catalog.key_names(instance.class_name)
    if not keys or any(instance.get(k) is None for k in keys):
        return None
    return Reference.build(namespace, instance.class_name, {k: instance.get(k) for k in keys})


# -- method calls -----------------------------------------------------------------
def method_action(namespace: str, class_name: str, method: str) -> str:
    """The custom action URI of a method (DSP0230 10.3, MS-WSMV 3.1.4.1.32)."""
    return f"{resource_uri(namespace, class_name)}/{method}"


def method_input(namespace: str, class_name: str, method: str,
                 params: Mapping[str, Any]) -> ET.Element:
    """``<p:<Method>_INPUT>``: references as EPR children, embedded
    instances as their text (already encoded by the caller), arrays as
    repeated elements, nulls left out."""
    uri = resource_uri(namespace, class_name)
    body = ET.Element(q(uri, f"{method}_INPUT"))
    for name, value in params.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            child = ET.SubElement(body, q(uri, name))
            if isinstance(item, Reference):
                epr_children(child, item)
            else:
                child.text = format_scalar(item)
    return body


def parse_method_input(body: ET.Element, kinds: Mapping[str, str],
                       catalog: Catalog) -> dict[str, Any]:
    """Input parameters of a ``_INPUT`` element, by the declared kinds.

    :raises InvalidParameter: naming a parameter the method does not have.
    """
    lower = {name.lower(): name for name in kinds}
    values: dict[str, list[Any]] = {}
    for child in body:
        given = child.tag.rpartition("}")[2]
        name = lower.get(given.lower())
        if name is None:
            raise InvalidParameter(where="method input", detail=f"no parameter named {given!r}")
        kind = kinds[name].removesuffix("[]")
        value = parse_epr(child, catalog) if kind == "R" else (
            child.text or "" if kind == "E" else parse_scalar(child.text, kind))
        values.setdefault(name, []).append(value)
    return {name: items if kinds[name].endswith("[]") else items[0]
            for name, items in values.items()}


def method_output(namespace: str, class_name: str, method: str, return_value: int,
                  out: Mapping[str, Any], error_description: str | None = None) -> ET.Element:
    """``<p:<Method>_OUTPUT>`` with the out parameters and ReturnValue.

    *error_description* is the emulated host's extended error text for a
    failed call, sent as ``<e:ErrorDescription>`` in the emulator's own
    namespace (:data:`EMULATOR`): not Hyper-V's, which sends none.
    """
    uri = resource_uri(namespace, class_name)
    body = ET.Element(q(uri, f"{method}_OUTPUT"))
    for name, value in out.items():
        _property_elements(body, uri, name, value, namespace)
    ET.SubElement(body, q(uri, "ReturnValue")).text = str(return_value)
    if error_description:
        ET.SubElement(body, q(EMULATOR, "ErrorDescription")).text = error_description
    return body


def method_error_description(body: ET.Element) -> str | None:
    """The emulator's error text in a ``_OUTPUT`` element, if any."""
    found = body.find(q(EMULATOR, "ErrorDescription"))
    return found.text or "" if found is not None else None


def parse_method_output(body: ET.Element, kinds: Mapping[str, str],
                        catalog: Catalog) -> tuple[int, dict[str, Any]]:
    """(ReturnValue, out parameters) of a ``_OUTPUT`` element.

    Declared array parameters are lists even with one item; references and
    embedded objects are recognised by their shape.
    """
    return_value = 0
    values: dict[str, list[Any]] = {}
    for child in body:
        name = child.tag.rpartition("}")[2]
        if child.tag.startswith(f"{{{EMULATOR}}}"):
            continue
        if name == "ReturnValue":
            return_value = int(child.text or 0)
            continue
        kind = kinds.get(name, "string").removesuffix("[]")
        values.setdefault(name, []).append(
            _child_value(child, "string" if kind in ("R", "E", "I") else kind, catalog, ""))
    out = {name: items if kinds.get(name, "").endswith("[]") else items[0]
           for name, items in values.items()}
    return return_value, out
