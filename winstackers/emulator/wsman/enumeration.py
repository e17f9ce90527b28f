"""Enumerate, Pull and Release on the emulated WinRM listener.

What is emulated (MS-WSMV 3.1.4.8-3.1.4.10 and the examples of 4.1.2):

- the filter is WQL (``wsman:Filter`` or ``wsen:Filter`` with Dialect
  ``http://schemas.microsoft.com/wbem/wsman/1/WQL``, treated alike,
  3.1.4.1.13) on the ``.../<namespace>/*`` resource URI; on a class URI
  the filter may be left out (all instances of the class, subclasses
  included, 3.1.4.1.27);
- ``wsman:EnumerationMode``: ``EnumerateObject`` (the default),
  ``EnumerateEPR`` and ``EnumerateObjectAndEPR`` (``wsman:Item`` = the
  instance element then its ``wsa:EndpointReference``), 3.1.4.1.17;
- ``wsman:OptimizeEnumeration``: the first ``wsman:MaxElements`` items come
  in the EnumerateResponse's ``wsman:Items``, with ``wsman:EndOfSequence``
  and an empty context when that is all (3.1.4.1.16);
- Pull returns up to ``wsen:MaxElements`` items (1 when absent, at most
  MaxBatchItems = 32000, 3.1.4.1.14) and a *new* context, or
  ``wsen:EndOfSequence`` and no context at the end; a batch holds fewer
  items when more would not fit in the request's MaxEnvelopeSize
  (3.1.4.1.7), and one item that alone does not fit is a
  ``w:EncodingLimit`` fault;
- a context is valid for one Pull or Release; an unknown, used or expired
  one (idle longer than EnumerationTimeoutms, 60 s by default, 2.2.4.36)
  gets ``wsen:InvalidEnumerationContext``; more than
  MaxConcurrentOperationsPerUser (1500) open contexts is a quota fault
  (3.1.4.1.19);
- ``SELECT a, b FROM ...`` answers ``wsman:XmlFragment`` items whose
  children are unqualified and alphabetical (MS-WSMV <58>, <59>).

Not emulated: the association and selector filter dialects, ``wsen:Expires``,
``wsman:RequestTotalItemsCountEstimate``, ``wsen:MaxTime``/``MaxCharacters``.
Results are computed when the enumeration starts (a snapshot), as WMI's
forward-only enumerators in practice deliver them.
"""

from __future__ import annotations

import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass

from winstackers.cim import wql
from winstackers.cim import wsman_xml as wx
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman import xmlwrite
from winstackers.emulator.wsman.soap import (
    ENUMERATION_FAULT_ACTION,
    ERROR_WSMAN_CANNOT_PROCESS_FILTER,
    ERROR_WSMAN_ENCODING_LIMIT,
    ERROR_WSMAN_FILTER_DIALECT_UNAVAILABLE,
    ERROR_WSMAN_INVALID_ENUMERATION_CONTEXT,
    ERROR_WSMAN_UNSUPPORTED_FEATURE,
    Request,
    SoapFault,
    invalid_body,
    split_resource_uri,
)

ENUMERATION_TIMEOUT = 60.0
MAX_OPEN_ENUMERATIONS = 1500
MAX_BATCH_ITEMS = 32000
MODES = ("EnumerateObject", "EnumerateEPR", "EnumerateObjectAndEPR")
#: Room kept in the envelope for headers and the response element.
ENVELOPE_OVERHEAD = 2048
ERROR_WSMAN_QUOTA_MAX_OPERATIONS = 0x803381A6


@dataclass
class Cursor:
    """Where one enumeration stands."""

    items: list[Instance]
    mode: str
    fragment: bool
    namespace: str
    position: int = 0

    @property
    def done(self) -> bool:
        """Whether every item was delivered."""
        return self.position >= len(self.items)


class Enumerations:
    """The open enumeration contexts of one listener (thread-safe)."""

    def __init__(self, timeout: float = ENUMERATION_TIMEOUT, limit: int = MAX_OPEN_ENUMERATIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, tuple[Cursor, float]] = {}

    def open(self, cursor: Cursor) -> str:
        """A new context for *cursor*.  :raises SoapFault: over the quota."""
        with self._lock:
            self._expire()
            if len(self._open) >= self.limit:
                raise SoapFault(ERROR_WSMAN_QUOTA_MAX_OPERATIONS, "w:InternalError",
                                f"more than {self.limit} enumerations are open", receiver=True)
            context = f"uuid:{secrets.token_hex(16)}"
            self._open[context] = (cursor, self._clock() + self.timeout)
            return context

    def take(self, context: str) -> Cursor:
        """The cursor of *context*, which stops being valid.

        :raises SoapFault: InvalidEnumerationContext.
        """
        with self._lock:
            self._expire()
            found = self._open.pop(context.strip(), None)
        if found is None:
            raise SoapFault(ERROR_WSMAN_INVALID_ENUMERATION_CONTEXT,
                            "wsen:InvalidEnumerationContext",
                            f"the enumeration context {context.strip()!r} is not valid: it was "
                            "completed, released or expired; start a new enumeration",
                            receiver=True, action=ENUMERATION_FAULT_ACTION)
        return found[0]

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._open)

    def _expire(self) -> None:
        now = self._clock()
        for context in [c for c, (_, ends) in self._open.items() if ends <= now]:
            del self._open[context]


# -- the three actions -------------------------------------------------------------
def enumerate_(host: EmulatedHost, request: Request, enumerations: Enumerations) -> ET.Element:
    """EnumerateResponse: runs the query, answers the first batch when
    optimized, else only a context (MS-WSMV 3.1.4.8, 4.1.2)."""
    body = _body(request, "Enumerate")
    namespace, class_name = split_resource_uri(request.resource_uri)
    text, mode = _filter(body, class_name), _mode(body)
    cursor = Cursor(host.query(text, namespace), mode, _is_fragment(text), namespace)
    answer = ET.Element(wx.q(wx.WSEN, "EnumerateResponse"))
    context = ET.SubElement(answer, wx.q(wx.WSEN, "EnumerationContext"))
    if body.find(wx.q(wx.WSMAN, "OptimizeEnumeration")) is not None:
        batch = _batch(cursor, _max_elements(body, wx.WSMAN), request.max_envelope)
        ET.SubElement(answer, wx.q(wx.WSMAN, "Items")).extend(batch)
        if cursor.done:
            ET.SubElement(answer, wx.q(wx.WSMAN, "EndOfSequence"))
            return answer
    context.text = enumerations.open(cursor)
    return answer


def pull(request: Request, enumerations: Enumerations) -> ET.Element:
    """PullResponse: the next batch and a new context, or EndOfSequence
    (MS-WSMV 3.1.4.9, 4.1.2.4-4.1.2.6)."""
    body = _body(request, "Pull")
    cursor = enumerations.take(_context(body))
    batch = _batch(cursor, _max_elements(body, wx.WSEN), request.max_envelope)
    answer = ET.Element(wx.q(wx.WSEN, "PullResponse"))
    if not cursor.done:
        ET.SubElement(answer, wx.q(wx.WSEN, "EnumerationContext")).text = \
            enumerations.open(cursor)
    ET.SubElement(answer, wx.q(wx.WSEN, "Items")).extend(batch)
    if cursor.done:
        ET.SubElement(answer, wx.q(wx.WSEN, "EndOfSequence"))
    return answer


def release(request: Request, enumerations: Enumerations) -> None:
    """Release: forget the context; the response body is empty (3.1.4.10)."""
    enumerations.take(_context(_body(request, "Release")))


# -- request parts -----------------------------------------------------------------
def _body(request: Request, name: str) -> ET.Element:
    if request.body is None or request.body.tag != wx.q(wx.WSEN, name):
        raise invalid_body(f"the request body is missing the element titled {name!r}")
    return request.body


def _context(body: ET.Element) -> str:
    found = body.find(wx.q(wx.WSEN, "EnumerationContext"))
    if found is None or not (found.text or "").strip():
        raise invalid_body("the request has no EnumerationContext")
    return found.text or ""


def _filter(body: ET.Element, class_name: str) -> str:
    found = body.find(wx.q(wx.WSMAN, "Filter"))
    found = found if found is not None else body.find(wx.q(wx.WSEN, "Filter"))
    if found is None:
        if class_name == "*":
            raise SoapFault(ERROR_WSMAN_CANNOT_PROCESS_FILTER, "wsen:CannotProcessFilter",
                            "enumerating the '*' resource URI needs a WQL filter")
        return f"SELECT * FROM {class_name}"
    if found.get("Dialect", "").lower() != wx.WQL_DIALECT.lower():
        raise SoapFault(ERROR_WSMAN_FILTER_DIALECT_UNAVAILABLE,
                        "wsen:FilterDialectRequestedUnavailable",
                        f"filter dialect {found.get('Dialect')!r} is not supported; "
                        f"use {wx.WQL_DIALECT}")
    if not (found.text or "").strip():
        raise SoapFault(ERROR_WSMAN_CANNOT_PROCESS_FILTER, "wsen:CannotProcessFilter",
                        "the WQL filter is empty")
    return (found.text or "").strip()


def _mode(body: ET.Element) -> str:
    found = body.find(wx.q(wx.WSMAN, "EnumerationMode"))
    mode = (found.text or "").strip() if found is not None else "EnumerateObject"
    if mode not in MODES:
        raise SoapFault(ERROR_WSMAN_UNSUPPORTED_FEATURE, "w:UnsupportedFeature",
                        f"enumeration mode {mode!r} is not supported; one of {', '.join(MODES)}")
    return mode


def _max_elements(body: ET.Element, ns: str) -> int:
    found = body.find(wx.q(ns, "MaxElements"))
    if found is None:
        return 1
    try:
        wanted = int((found.text or "").strip())
    except ValueError:
        raise invalid_body(f"MaxElements {found.text!r} is not a number") from None
    if wanted < 1:
        raise invalid_body(f"MaxElements {wanted} must be at least 1")
    return min(wanted, MAX_BATCH_ITEMS)


def _is_fragment(text: str) -> bool:
    parsed = wql.parse(text)
    return isinstance(parsed, wql.SelectQuery) and parsed.properties is not None


# -- items ---------------------------------------------------------------------------
def _batch(cursor: Cursor, max_elements: int, max_envelope: int) -> list[ET.Element]:
    """Up to *max_elements* items that fit in the envelope size, each
    written to text once (:func:`xmlwrite.raw`)."""
    budget = max_envelope - ENVELOPE_OVERHEAD
    batch: list[ET.Element] = []
    used = 0
    while not cursor.done and len(batch) < max_elements:
        text = xmlwrite.fragment(item_element(cursor.items[cursor.position], cursor))
        size = len(text.encode("utf-8"))
        if batch and used + size > budget:
            break
        if size > budget:
            raise SoapFault(ERROR_WSMAN_ENCODING_LIMIT, "w:EncodingLimit",
                            f"an item of {size} bytes does not fit in MaxEnvelopeSize "
                            f"{max_envelope}")
        batch.append(xmlwrite.raw(text))
        used += size
        cursor.position += 1
    return batch


def item_element(instance: Instance, cursor: Cursor) -> ET.Element:
    """One enumeration item in the cursor's mode."""
    namespace = instance.path.namespace if instance.path else cursor.namespace
    obj = fragment_element(instance, namespace) if cursor.fragment \
        else wx.instance_element(instance, namespace)
    if cursor.mode == "EnumerateObject" or instance.path is None:
        return obj
    epr = endpoint_reference(instance.path)
    if cursor.mode == "EnumerateEPR":
        return epr
    item = ET.Element(wx.q(wx.WSMAN, "Item"))
    item.extend([obj, epr])
    return item


def endpoint_reference(ref: Reference) -> ET.Element:
    """``wsa:EndpointReference`` of an instance."""
    return wx.epr_children(ET.Element(wx.q(wx.WSA, "EndpointReference")), ref)


def fragment_element(instance: Instance, namespace: str) -> ET.Element:
    """``wsman:XmlFragment`` with unqualified property children, in
    alphabetical order (values encoded as in an instance element)."""
    fragment = ET.Element(wx.q(wx.WSMAN, "XmlFragment"))
    for child in wx.instance_element(instance, namespace):
        child.tag = child.tag.rpartition("}")[2]
        fragment.append(child)
    return fragment
