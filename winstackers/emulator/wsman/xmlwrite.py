"""XML text of the listener's responses.

ElementTree's serializer is generic and slow for large enumerations, and
names namespaces ``ns0``, ``ns1``...  This one writes the shapes WinRM
writes: the protocol namespaces get fixed prefixes declared once on the
envelope (``s``, ``a``, ``w``, ``n``, ...), and any other namespace (a
class resource URI) is declared on the element that first uses it as
``p``, as in the captures MS-WSMV's examples and real hosts show
(``<p:Msvm_ComputerSystem xmlns:p="...">``), which also binds the ``p`` of
``xsi:type="p:<Class>_Type"``.

An element tagged :data:`RAW` stands for XML text written before (an
enumeration item measured against MaxEnvelopeSize is written only once).
Text keeps carriage returns (as ``&#13;``), which a parser would otherwise
turn into line feeds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from winstackers.cim import wsman_xml as wx

XML_NS = "http://www.w3.org/XML/1998/namespace"
#: Namespace -> prefix declared on every envelope.
FIXED: Mapping[str, str] = {
    wx.S: "s", wx.WSA: "a", wx.WSMAN: "w", wx.WSEN: "n", wx.WXF: "x", wx.XSI: "xsi",
    wx.CIM: "cim", wx.WSMANFAULT: "f", wx.EMULATOR: "e",
}
RAW = "{urn:winstackers:raw}xml"
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                       "\r": "&#13;", "\n": "&#10;", "\t": "&#9;"})


def document(root: ET.Element) -> bytes:
    """*root* as a UTF-8 document, the fixed prefixes declared on it."""
    out = ['<?xml version="1.0" encoding="utf-8"?>']
    declarations = "".join(f' xmlns:{prefix}="{uri}"' for uri, prefix in FIXED.items())
    _write(root, out, {}, declarations)
    return "".join(out).encode("utf-8")


def fragment(elem: ET.Element) -> str:
    """*elem* as XML text for a :data:`RAW` element of a :func:`document`."""
    out: list[str] = []
    _write(elem, out, {}, "")
    return "".join(out)


def raw(text: str) -> ET.Element:
    """An element standing for XML *text* (from :func:`fragment`)."""
    elem = ET.Element(RAW)
    elem.text = text
    return elem


def _write(elem: ET.Element, out: list[str], outer: dict[str, str], extra: str) -> None:
    if elem.tag == RAW:
        out.append(elem.text or "")
        return
    scope = dict(outer)  # declarations made here hold for this subtree only
    declared: list[str] = []
    name = _qualify(elem.tag, scope, declared)
    attributes = "".join(f' {_qualify(key, scope, declared)}="{value.translate(_ATTR)}"'
                         for key, value in elem.items())
    out.append(f"<{name}{extra}{''.join(declared)}{attributes}")
    children = list(elem)
    if not children and not elem.text:
        out.append("/>")
        return
    out.append(">")
    if elem.text:
        out.append(elem.text.translate(_TEXT))
    for child in children:
        _write(child, out, scope, "")
        if child.tail:
            out.append(child.tail.translate(_TEXT))
    out.append(f"</{name}>")


def _qualify(tag: str, scope: dict[str, str], declared: list[str]) -> str:
    """The prefixed name of *tag*.  A namespace not yet in *scope* is bound
    to ``p`` on this element (shadowing an outer ``p``; ``p1``, ``p2``...
    when this element already binds ``p``) and recorded in *declared*."""
    if tag[:1] != "{":
        return tag
    uri, _, local = tag[1:].partition("}")
    prefix = FIXED.get(uri) or ("xml" if uri == XML_NS else scope.get(uri))
    if not prefix:
        prefix = f"p{len(declared)}" if declared else "p"
        for other in [u for u, p in scope.items() if p == prefix]:
            del scope[other]
        scope[uri] = prefix
        declared.append(f' xmlns:{prefix}="{uri.translate(_ATTR)}"')
    return f"{prefix}:{local}"
