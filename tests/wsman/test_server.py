"""The served emulator's wire protocol, checked with raw HTTP requests:
envelopes and addressing, enumeration modes and contexts, faults, HTTP
authentication, and the admin endpoint (MS-WSMV sections in the server's
docstrings)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests

from winstackers.cim import wsman_xml as wx
from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.emulator.wsman import soap, xmlwrite
from winstackers.emulator.wsman.enumeration import Cursor, Enumerations
from winstackers.emulator.wsman.fixtures import ServedHost
from winstackers.emulator.wsman.server import WsmanServer

from ..contract.helpers import Host

NS = {"s": wx.S, "a": wx.WSA, "w": wx.WSMAN, "n": wx.WSEN, "f": wx.WSMANFAULT}
STAR = wx.resource_uri("root/virtualization/v2", "*")
CS = wx.resource_uri("root/virtualization/v2", "Msvm_ComputerSystem")


class Wire:
    """Raw WS-Management requests to the served host."""

    def __init__(self, served: ServedHost) -> None:
        self.url = served.server.url
        self.http = requests.Session()
        self.http.auth = ("winstackers", served.password)
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.http.verify = str(served.ca_path)
        self.sizes: list[int] = []

    def post(self, data: bytes | str) -> requests.Response:
        return self.http.post(self.url, data=data,
                              headers={"Content-Type": "application/soap+xml;charset=UTF-8"})

    def call(self, action: str, uri: str, body: str = "", selectors: dict[str, str] | None = None,
             max_envelope: int = 153600) -> tuple[int, ET.Element, str]:
        """(status, s:Body, sent MessageID)."""
        message_id = f"uuid:{uuid.uuid4()}"
        selector_set = "".join(f'<w:Selector Name="{k}">{v}</w:Selector>'
                               for k, v in (selectors or {}).items())
        envelope = (
            f'<s:Envelope xmlns:s="{wx.S}" xmlns:a="{wx.WSA}" xmlns:w="{wx.WSMAN}" '
            f'xmlns:n="{wx.WSEN}"><s:Header><a:Action>{action}</a:Action>'
            f"<a:MessageID>{message_id}</a:MessageID><w:ResourceURI>{uri}</w:ResourceURI>"
            f"<w:MaxEnvelopeSize>{max_envelope}</w:MaxEnvelopeSize>"
            f"<w:SelectorSet>{selector_set}</w:SelectorSet></s:Header>"
            f"<s:Body>{body}</s:Body></s:Envelope>")
        response = self.post(envelope)
        self.sizes.append(len(response.content))
        self.last = ET.fromstring(response.content)
        return response.status_code, self.last.find("s:Body", NS), message_id  # type: ignore


def enumerate_body(wql: str | None = None, mode: str | None = None, optimize: int = 0,
                   dialect: str = wx.WQL_DIALECT) -> str:
    parts = [f'<w:Filter Dialect="{dialect}">{wql}</w:Filter>' if wql else ""]
    parts.append(f"<w:EnumerationMode>{mode}</w:EnumerationMode>" if mode else "")
    if optimize:
        parts.append(f"<w:OptimizeEnumeration/><w:MaxElements>{optimize}</w:MaxElements>")
    return f"<n:Enumerate>{''.join(parts)}</n:Enumerate>"


def pull_body(context: str, max_elements: int) -> str:
    return (f"<n:Pull><n:EnumerationContext>{context}</n:EnumerationContext>"
            f"<n:MaxElements>{max_elements}</n:MaxElements></n:Pull>")


def fault_of(body: ET.Element) -> tuple[str, str, int, str]:
    """(code, subcode, WSManFault Code, Message) of a fault body."""
    fault = body.find("s:Fault", NS)
    assert fault is not None
    wsman_fault = fault.find("s:Detail/f:WSManFault", NS)
    assert wsman_fault is not None
    return (fault.findtext("s:Code/s:Value", "", NS),
            fault.findtext("s:Code/s:Subcode/s:Value", "", NS),
            int(wsman_fault.get("Code", "0")), wsman_fault.findtext("f:Message", "", NS))


@pytest.fixture
def wire(wsman_server: WsmanServer, served: ServedHost) -> Wire:
    return Wire(served)


@pytest.fixture
def vms(wsman_server: WsmanServer) -> int:
    """Five VMs on the served host; returns how many systems it has."""
    helper = Host(EmulatedSession(wsman_server.host))
    for _ in range(5):
        helper.define_vm()
    return 6


# -- envelopes ---------------------------------------------------------------------
def test_a_response_addresses_the_request(wire: Wire) -> None:
    status, body, message_id = wire.call(wx.ENUMERATE, STAR,
                                         enumerate_body("SELECT * FROM Msvm_ComputerSystem"))
    header = wire.last.find("s:Header", NS)
    assert status == 200 and header is not None
    assert header.findtext("a:Action", "", NS) == wx.ENUMERATE + "Response"
    assert header.findtext("a:RelatesTo", "", NS) == message_id
    assert header.findtext("a:To", "", NS) == wx.ANONYMOUS
    assert header.findtext("a:MessageID", "", NS).startswith("uuid:")
    assert header.findtext("a:MessageID", "", NS) != message_id


@pytest.mark.parametrize("data, code", [
    ("<not xml", soap.ERROR_WSMAN_INVALID_XML),
    (f'<s:Envelope xmlns:s="{wx.S}"><s:Header/><s:Body/></s:Envelope>',
     soap.ERROR_WSMAN_MESSAGE_INFORMATION_HEADER_REQUIRED),
    ("<Envelope><Header/><Body/></Envelope>", soap.ERROR_WSMAN_SCHEMA_VALIDATION_ERROR),
], ids=["not-xml", "no-headers", "not-soap"])
def test_a_malformed_request_is_a_fault_without_a_stack_trace(wire: Wire, data: str,
                                                              code: int) -> None:
    response = wire.post(data)
    assert response.status_code == 500 and b"Traceback" not in response.content
    body = ET.fromstring(response.content).find("s:Body", NS)
    assert body is not None and fault_of(body)[0] == "s:Sender"
    assert fault_of(body)[2] == code


def test_a_host_error_is_a_fault_with_its_wmi_code_and_machine(wire: Wire) -> None:
    status, body, _ = wire.call(wx.ENUMERATE, STAR, enumerate_body("SELECT * FROM Msvm_Nope"))
    code, subcode, wsman_code, message = fault_of(body)
    assert status == 500 and (code, subcode) == ("s:Sender", "wsen:CannotProcessFilter")
    assert wsman_code == 0x80041017 and "Msvm_Nope" in message
    wsman_fault = body.find("s:Fault/s:Detail/f:WSManFault", NS)
    assert wsman_fault is not None and wsman_fault.get("Machine") == "WIN-HV-EMU01"


@pytest.mark.parametrize("action, uri, body, subcode", [
    (wx.ENUMERATE, STAR, enumerate_body(), "wsen:CannotProcessFilter"),
    (wx.ENUMERATE, STAR, enumerate_body("x", dialect="http://www.w3.org/TR/1999/REC-xpath"),
     "wsen:FilterDialectRequestedUnavailable"),
    (wx.ENUMERATE, CS, enumerate_body(mode="EnumerateEverything"), "w:UnsupportedFeature"),
    (wx.ENUMERATE, CS, "<n:Pull/>", "w:SchemaValidationError"),
    (wx.GET, "http://schemas.microsoft.com/wbem/wsman/1/config", "", "a:DestinationUnreachable"),
    (f"{STAR}/Frobnicate", CS, "", "a:ActionNotSupported"),
], ids=["star-without-filter", "xpath", "mode", "wrong-body", "not-wmi", "foreign-action"])
def test_protocol_errors_have_winrm_subcodes(wire: Wire, action: str, uri: str, body: str,
                                             subcode: str) -> None:
    status, answer, _ = wire.call(action, uri, body)
    assert status == 500 and fault_of(answer)[1] == subcode


def test_get_answers_the_instance_element(wire: Wire) -> None:
    status, body, _ = wire.call(wx.GET, CS, selectors={
        "CreationClassName": "Msvm_ComputerSystem", "name": "WIN-HV-EMU01"})
    [instance] = list(body)
    assert status == 200 and instance.tag == wx.q(CS, "Msvm_ComputerSystem")
    assert instance.get(wx.q(wx.XSI, "type")) == "p:Msvm_ComputerSystem_Type"
    assert instance.findtext(wx.q(CS, "ElementName")) == "WIN-HV-EMU01"


# -- enumeration ---------------------------------------------------------------------
def items_of(answer: ET.Element, response: str) -> tuple[list[ET.Element], str | None, bool]:
    found = answer.find(f"n:{response}", NS)
    assert found is not None
    items = [*found.findall("w:Items/*", NS), *found.findall("n:Items/*", NS)]
    done = found.find("w:EndOfSequence", NS) is not None or \
        found.find("n:EndOfSequence", NS) is not None
    return items, found.findtext("n:EnumerationContext", None, NS) or None, done


def pull_all(wire: Wire, context: str | None, max_elements: int,
             max_envelope: int = 153600) -> list[list[ET.Element]]:
    pages = []
    while context:
        status, body, _ = wire.call(wx.PULL, STAR, pull_body(context, max_elements),
                                    max_envelope=max_envelope)
        assert status == 200
        items, new_context, done = items_of(body, "PullResponse")
        assert new_context != context and done == (new_context is None)
        pages.append(items)
        context = new_context
    return pages


def test_enumerate_then_pull_pages_with_new_contexts(wire: Wire, vms: int) -> None:
    status, body, _ = wire.call(wx.ENUMERATE, CS, enumerate_body())
    items, context, done = items_of(body, "EnumerateResponse")
    assert status == 200 and (items, done) == ([], False) and context
    pages = pull_all(wire, context, 4)
    assert [len(page) for page in pages] == [4, vms - 4]
    assert all(item.tag == wx.q(CS, "Msvm_ComputerSystem") for item in pages[0])


def test_optimized_enumeration_answers_at_once_with_end_of_sequence(wire: Wire, vms: int) -> None:
    _, body, _ = wire.call(wx.ENUMERATE, STAR, enumerate_body(
        "SELECT * FROM Msvm_ComputerSystem", "EnumerateObjectAndEPR", optimize=100))
    items, context, done = items_of(body, "EnumerateResponse")
    assert (len(items), context, done) == (vms, None, True)
    for item in items:
        assert item.tag == wx.q(wx.WSMAN, "Item")
        assert [child.tag for child in item] == [wx.q(CS, "Msvm_ComputerSystem"),
                                                 wx.q(wx.WSA, "EndpointReference")]


def test_epr_mode_answers_endpoint_references(wire: Wire) -> None:
    _, body, _ = wire.call(wx.ENUMERATE, CS, enumerate_body(mode="EnumerateEPR", optimize=5))
    [item], _, _ = items_of(body, "EnumerateResponse")
    assert item.tag == wx.q(wx.WSA, "EndpointReference")
    assert wx.parse_epr(item).key("Name") == "WIN-HV-EMU01"


def test_a_select_list_answers_xml_fragments(wire: Wire) -> None:
    _, body, _ = wire.call(wx.ENUMERATE, STAR, enumerate_body(
        "SELECT Name, ElementName, EnabledState FROM Msvm_ComputerSystem", optimize=5))
    [fragment], _, _ = items_of(body, "EnumerateResponse")
    assert fragment.tag == wx.q(wx.WSMAN, "XmlFragment")
    assert [child.tag for child in fragment] == ["ElementName", "EnabledState", "Name"]


def test_batches_fit_the_max_envelope_size(wire: Wire, wsman_server: WsmanServer,
                                           vms: int) -> None:
    wql = "SELECT * FROM Msvm_VirtualSystemSettingData"
    _, body, _ = wire.call(wx.ENUMERATE, STAR, enumerate_body(wql, optimize=100),
                           max_envelope=8192)
    first, context, _ = items_of(body, "EnumerateResponse")
    pages = [first, *pull_all(wire, context, 100, max_envelope=8192)]
    assert len(pages) > 1 and max(wire.sizes) <= 8192
    assert sum(map(len, pages)) == len(wsman_server.host.query(wql)) > vms


def test_a_context_serves_once_and_release_ends_it(wire: Wire, vms: int) -> None:
    _, body, _ = wire.call(wx.ENUMERATE, CS, enumerate_body())
    _, context, _ = items_of(body, "EnumerateResponse")
    assert context is not None
    assert wire.call(wx.PULL, CS, pull_body(context, 1))[0] == 200
    status, fault, _ = wire.call(wx.PULL, CS, pull_body(context, 1))
    assert status == 500 and fault_of(fault)[:3] == ("s:Receiver", "wsen:InvalidEnumerationContext",
                                                     soap.ERROR_WSMAN_INVALID_ENUMERATION_CONTEXT)
    _, body, _ = wire.call(wx.ENUMERATE, CS, enumerate_body())
    _, context, _ = items_of(body, "EnumerateResponse")
    status, released, _ = wire.call(wx.RELEASE, CS, f"<n:Release><n:EnumerationContext>"
                                    f"{context}</n:EnumerationContext></n:Release>")
    assert (status, list(released)) == (200, [])
    assert wire.last.findtext("s:Header/a:Action", "", NS) == wx.RELEASE + "Response"
    assert wire.call(wx.PULL, CS, pull_body(str(context), 1))[0] == 500


def test_contexts_expire_and_are_bounded() -> None:
    now = [0.0]
    contexts = Enumerations(timeout=60.0, limit=2, clock=lambda: now[0])
    first = contexts.open(Cursor([], "EnumerateObject", False, "root/virtualization/v2"))
    contexts.open(Cursor([], "EnumerateObject", False, "root/virtualization/v2"))
    with pytest.raises(soap.SoapFault, match="more than 2"):
        contexts.open(Cursor([], "EnumerateObject", False, "root/virtualization/v2"))
    now[0] = 61.0
    assert len(contexts) == 0
    with pytest.raises(soap.SoapFault, match="not valid"):
        contexts.take(first)


# -- HTTP ------------------------------------------------------------------------------
@pytest.mark.parametrize("auth", [None, ("winstackers", "wrong"), ("someone", None)],
                         ids=["none", "wrong-password", "wrong-user"])
def test_bad_credentials_get_401_with_the_basic_challenge(
        wire: Wire, served: ServedHost, auth: tuple[str, str | None] | None) -> None:
    credentials = (auth[0], auth[1] or served.password) if auth else None
    response = requests.post(wire.url, data=b"<x/>", auth=credentials,
                             verify=str(served.ca_path))
    assert response.status_code == 401 and response.content == b""
    assert response.headers["WWW-Authenticate"] == 'Basic realm="WSMAN"'


def test_an_oversized_request_gets_413(wire: Wire) -> None:
    assert wire.post(b" " * (500 * 1024 + 1)).status_code == 413


def test_an_empty_post_is_accepted(wire: Wire) -> None:
    response = wire.post(b"")
    assert (response.status_code, response.content) == (200, b"")


# -- admin endpoint --------------------------------------------------------------------
def admin(wire: Wire, method: str, path: str, json: Any = None) -> requests.Response:
    base = wire.url.rpartition("/wsman")[0]
    return wire.http.request(method, f"{base}/winstackers/{path}", json=json)


def test_admin_counters_and_reset(wire: Wire, wsman_server: WsmanServer) -> None:
    wire.call(wx.ENUMERATE, STAR, enumerate_body("SELECT * FROM Msvm_ComputerSystem"))
    counters = admin(wire, "GET", "counters").json()
    assert counters == {"by_operation": {"query": 1}, "reads": 1, "writes": 0}
    assert admin(wire, "POST", "counters/reset").status_code == 200
    assert admin(wire, "GET", "counters").json()["by_operation"] == {}


def test_admin_faults_replace_the_plan(wire: Wire, wsman_server: WsmanServer) -> None:
    answer = admin(wire, "POST", "faults", {"job_delay": 0.5, "seed": 3})
    assert answer.status_code == 200 and answer.json()["job_delay"] == 0.5
    assert (wsman_server.host.faults.job_delay, wsman_server.host.faults.seed) == (0.5, 3)
    assert admin(wire, "POST", "faults", {}).json()["job_delay"] == 0.0


@pytest.mark.parametrize("body, named", [
    ({"latency": -1}, "latency"), ({"lag": 1}, "lag"), ([1], "JSON object"),
], ids=["negative", "unknown-field", "not-an-object"])
def test_admin_refuses_a_bad_fault_plan(wire: Wire, body: Any, named: str) -> None:
    answer = admin(wire, "POST", "faults", body)
    assert answer.status_code == 400 and named in answer.json()["error"]


def test_admin_needs_the_credentials(wire: Wire) -> None:
    wire.http.auth = None
    assert admin(wire, "GET", "counters").status_code == 401
    assert wire.post(b"").status_code == 401


# -- XML text --------------------------------------------------------------------------
def test_written_xml_keeps_text_and_binds_p_per_class() -> None:
    outer = ET.Element(wx.q(CS, "Msvm_ComputerSystem"))
    inner = ET.SubElement(ET.SubElement(outer, wx.q(CS, "Embedded")), wx.q(STAR, "Other"))
    inner.set(wx.q(wx.XSI, "type"), "p:Other_Type")
    inner.text = 'line 1\r\nline 2 & <3> "4"'
    text = xmlwrite.fragment(outer)
    assert text.count('xmlns:p="') == 2
    back = ET.fromstring(f'<r xmlns:xsi="{wx.XSI}">{text}</r>')[0]
    assert ET.tostring(back) == ET.tostring(outer)
