"""SOAP 1.2 envelopes of the emulated WinRM listener: requests in,
responses and faults out.

A request's addressing headers are read as MS-WSMV 3.1.4.1 describes them:
``wsa:Action``, ``wsa:MessageID`` (``uuid:`` form, 3.1.4.1.5),
``wsman:ResourceURI``, ``wsman:SelectorSet`` and ``wsman:MaxEnvelopeSize``
(3.1.4.1.7).  A response carries ``wsa:To`` (the anonymous role),
``wsa:Action`` (the request's action + ``Response``), a new
``wsa:MessageID`` and ``wsa:RelatesTo`` echoing the request's MessageID,
as in the examples of MS-WSMV 4.1 (Get, Put, Enumerate/Pull, custom
actions).

A fault (MS-WSMV 2.2.4.43 and the examples of 4.10) is HTTP 500 with
``s:Code/s:Value`` (``s:Sender`` or ``s:Receiver``), ``s:Subcode/s:Value``
(a QName such as ``w:InvalidSelectors``), ``s:Reason/s:Text`` and
``s:Detail/wsmanfault:WSManFault Code=... Machine=...`` holding
``wsmanfault:Message``: the shape pypsrp's ``WSMan._parse_wsman_fault``
reads.  Fault codes are WinRM's (``wsmerror.h`` of the Windows SDK, which
also names each code's SOAP subcode) or WMI's
(:mod:`winstackers.cim.wmi_codes`).

Not emulated: SOAP 1.1, ``wsman:FragmentTransfer``, ``wsman:Locale``
checks (``mustUnderstand`` on headers is not enforced).
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from winstackers.cim import wmi_codes
from winstackers.cim import wsman_xml as wx
from winstackers.cim.errors import CimError
from winstackers.emulator.wsman import xmlwrite

FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ENUMERATION_FAULT_ACTION = f"{wx.WSEN}/fault"
#: Prefixes of the QNames written as fault subcodes, declared where used.
SUBCODE_PREFIXES = {"s": wx.S, "a": wx.WSA, "w": wx.WSMAN, "wsen": wx.WSEN, "wxf": wx.WXF}

#: MaxEnvelopeSizekb defaults to 500 (MS-WSMV 2.2.4.10); pypsrp asks 150 KiB.
MAX_ENVELOPE_BYTES = 500 * 1024
DEFAULT_ENVELOPE_BYTES = 153600

# WinRM fault codes (wsmerror.h), each with the subcode that header gives it.
ERROR_WSMAN_RESOURCE_NOT_FOUND = 0x80338000
ERROR_WSMAN_MESSAGE_INFORMATION_HEADER_REQUIRED = 0x80338011
ERROR_WSMAN_ACTION_NOT_SUPPORTED = 0x80338013
ERROR_WSMAN_FILTER_DIALECT_UNAVAILABLE = 0x80338019
ERROR_WSMAN_CANNOT_PROCESS_FILTER = 0x8033801A
ERROR_WSMAN_INVALID_ENUMERATION_CONTEXT = 0x8033801B
ERROR_WSMAN_INVALID_SOAP_BODY = 0x80338027
ERROR_WSMAN_SCHEMA_VALIDATION_ERROR = 0x80338041
ERROR_WSMAN_UNSUPPORTED_FEATURE = 0x80338042
ERROR_WSMAN_INVALID_XML = 0x80338043
ERROR_WSMAN_ENCODING_LIMIT = 0x80338035


class SoapFault(Exception):
    """A fault to answer with (MS-WSMV 2.2.4.43)."""

    def __init__(self, code: int, subcode: str, reason: str, *, receiver: bool = False,
                 action: str = FAULT_ACTION) -> None:
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.receiver = receiver
        self.action = action

    @classmethod
    def from_error(cls, error: CimError) -> SoapFault:
        """The fault reporting a host error, coded by
        :func:`winstackers.cim.wmi_codes.code_for_error`."""
        code, subcode = wmi_codes.code_for_error(error)
        receiver = subcode.endswith(("InternalError", "EndpointUnavailable"))
        return cls(code, subcode, str(error), receiver=receiver)


def split_resource_uri(uri: str) -> tuple[str, str]:
    """(namespace, class) of a WMI resource URI (MS-WSMV 3.1.4.1.1).

    :raises SoapFault: ``a:DestinationUnreachable`` for any other URI.
    """
    if not uri.lower().startswith(wx.WMI_BASE.lower()):
        raise SoapFault(ERROR_WSMAN_RESOURCE_NOT_FOUND, "a:DestinationUnreachable",
                        f"the resource URI {uri!r} is not served here: only WMI classes "
                        f"under {wx.WMI_BASE}")
    return wx.split_resource_uri(uri)


def invalid_body(reason: str) -> SoapFault:
    """The fault for a body that is not what the action needs."""
    return SoapFault(ERROR_WSMAN_SCHEMA_VALIDATION_ERROR, "w:SchemaValidationError", reason)


@dataclass(frozen=True)
class Request:
    """The parts of a WS-Management request the listener acts on."""

    action: str
    resource_uri: str
    message_id: str
    selectors: ET.Element | None
    body: ET.Element | None
    max_envelope: int = DEFAULT_ENVELOPE_BYTES


def parse_request(data: bytes) -> Request:
    """Read a request envelope.

    :raises SoapFault: for text that is not XML (InvalidXml), not a SOAP 1.2
        envelope, or lacks Action, MessageID or ResourceURI (MS-WSMV
        3.1.4.1.3-3.1.4.1.5).
    """
    try:
        envelope = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SoapFault(ERROR_WSMAN_INVALID_XML, "w:SchemaValidationError",
                        f"the request is not well-formed XML: {exc}") from None
    header = envelope.find(wx.q(wx.S, "Header"))
    body = envelope.find(wx.q(wx.S, "Body"))
    if envelope.tag != wx.q(wx.S, "Envelope") or header is None or body is None:
        raise invalid_body("the request is not a SOAP 1.2 envelope with Header and Body")
    return Request(action=_header_text(header, wx.WSA, "Action"),
                   resource_uri=_header_text(header, wx.WSMAN, "ResourceURI"),
                   message_id=_header_text(header, wx.WSA, "MessageID"),
                   selectors=header.find(wx.q(wx.WSMAN, "SelectorSet")),
                   body=next(iter(body), None),
                   max_envelope=_max_envelope(header))


def _header_text(header: ET.Element, ns: str, name: str) -> str:
    found = header.find(wx.q(ns, name))
    if found is None or not (found.text or "").strip():
        raise SoapFault(ERROR_WSMAN_MESSAGE_INFORMATION_HEADER_REQUIRED,
                        "a:MessageInformationHeaderRequired",
                        f"the request has no {name} header")
    return (found.text or "").strip()


def _max_envelope(header: ET.Element) -> int:
    """MaxEnvelopeSize, capped at MaxEnvelopeSizekb (MS-WSMV 3.1.4.1.7)."""
    found = header.find(wx.q(wx.WSMAN, "MaxEnvelopeSize"))
    try:
        asked = int((found.text or "").strip()) if found is not None else DEFAULT_ENVELOPE_BYTES
    except ValueError:
        raise invalid_body("MaxEnvelopeSize is not a number") from None
    if asked < 8192:
        raise SoapFault(ERROR_WSMAN_ENCODING_LIMIT, "w:EncodingLimit",
                        f"MaxEnvelopeSize {asked} is below the minimum of 8192")
    return min(asked, MAX_ENVELOPE_BYTES)


def _envelope(action: str, relates_to: str | None) -> tuple[ET.Element, ET.Element]:
    envelope = ET.Element(wx.q(wx.S, "Envelope"))
    header = ET.SubElement(envelope, wx.q(wx.S, "Header"))
    ET.SubElement(header, wx.q(wx.WSA, "To")).text = wx.ANONYMOUS
    ET.SubElement(header, wx.q(wx.WSA, "Action"), {wx.q(wx.S, "mustUnderstand"): "true"}) \
        .text = action
    ET.SubElement(header, wx.q(wx.WSA, "MessageID")).text = f"uuid:{str(uuid.uuid4()).upper()}"
    if relates_to:
        ET.SubElement(header, wx.q(wx.WSA, "RelatesTo")).text = relates_to
    return envelope, ET.SubElement(envelope, wx.q(wx.S, "Body"))


def response(request: Request, body: ET.Element | None, action: str | None = None) -> bytes:
    """The response envelope to *request* (action: request action +
    ``Response`` unless given)."""
    envelope, body_elem = _envelope(action or f"{request.action}Response", request.message_id)
    if body is not None:
        body_elem.append(body)
    return xmlwrite.document(envelope)


def fault(error: SoapFault, machine: str, relates_to: str | None) -> bytes:
    """A fault envelope (MS-WSMV 2.2.4.43, 4.10)."""
    envelope, body = _envelope(error.action, relates_to)
    fault_elem = ET.SubElement(body, wx.q(wx.S, "Fault"))
    code = ET.SubElement(fault_elem, wx.q(wx.S, "Code"))
    _qname_value(code, f"s:{'Receiver' if error.receiver else 'Sender'}")
    _qname_value(ET.SubElement(code, wx.q(wx.S, "Subcode")), error.subcode)
    reason = ET.SubElement(fault_elem, wx.q(wx.S, "Reason"))
    ET.SubElement(reason, wx.q(wx.S, "Text"), {wx.q(xmlwrite.XML_NS, "lang"): "en-US"}).text = \
        error.reason
    detail = ET.SubElement(fault_elem, wx.q(wx.S, "Detail"))
    wsman_fault = ET.SubElement(detail, wx.q(wx.WSMANFAULT, "WSManFault"),
                                {"Code": str(error.code), "Machine": machine})
    ET.SubElement(wsman_fault, wx.q(wx.WSMANFAULT, "Message")).text = error.reason
    return xmlwrite.document(envelope)


def _qname_value(parent: ET.Element, qname: str) -> None:
    """``s:Value`` holding *qname*, its prefix declared on the element: a
    QName in text needs a binding in scope, and subcodes use prefixes
    (``wsen:``) other than the envelope's fixed ones."""
    prefix = qname.partition(":")[0]
    value = ET.SubElement(parent, wx.q(wx.S, "Value"))
    if prefix in SUBCODE_PREFIXES:
        value.set(f"xmlns:{prefix}", SUBCODE_PREFIXES[prefix])
    value.text = qname
