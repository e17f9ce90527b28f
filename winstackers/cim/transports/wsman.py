"""The remote transport: WMI over WS-Management (WinRM), via pypsrp.

pypsrp's ``WSMan`` brings the HTTP(S) transport, authentication (Basic,
NTLM, Kerberos, CredSSP, certificates) and WinRM message encryption;
this module maps the CIM session protocol onto WS-Management operations
([MS-WSMV], https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/):

==============  ==========================================================
Session         WS-Management
==============  ==========================================================
query           Enumerate (WQL filter, EnumerateObjectAndEPR, optimized)
                + Pull until EndOfSequence (MS-WSMV 3.1.4.8-3.1.4.10)
associators,    the same, with an ``ASSOCIATORS OF`` / ``REFERENCES OF``
references      WQL statement
get             Get with the key selectors (MS-WSMV 3.1.4.2)
invoke          the custom action ``<class URI>/<Method>`` (3.1.4.1.32)
create, modify  Create, Put, Delete
delete
==============  ==========================================================

Created/deleted vNICs are discovered by polling an enumeration
(:class:`winstackers.cim.watch.InstanceWatcher`): it survives reconnects,
which WS-Eventing subscriptions do not.

Secure by default: HTTPS with certificate verification.  Plain HTTP is
refused unless the authentication encrypts messages (NTLM, Kerberos,
CredSSP) or ``insecure=True`` is given.  Passwords are never logged, and
errors name the user and host, never the password.  At most
``max_concurrency`` operations run at once per session; each uses its own
pooled connection.
"""

from __future__ import annotations

import queue
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.wsman import SelectorSet, WSMan

from winstackers.cim import embedded, errors, wmi_codes
from winstackers.cim import wsman_xml as wx
from winstackers.cim.api import HYPERV_NAMESPACE, MethodResult, Session
from winstackers.cim.values import Instance, Reference

ENCRYPTING_AUTHS = frozenset({"ntlm", "kerberos", "negotiate", "credssp"})
#: What ``auth`` may be.  Client certificate mapping (WinRM's
#: ``Certificate`` authentication) needs a certificate and key that a
#: session cannot be given yet, so it is refused rather than failing later.
AUTHS = ENCRYPTING_AUTHS | {"basic"}


class WsmanSession(Session):
    """A session on a host's WMI through its WinRM listener."""

    def __init__(self, server: str, *, port: int | None = None, ssl: bool = True,
                 path: str = "wsman", username: str | None = None,
                 password: str | None = None, auth: str = "negotiate",
                 verify: bool | str = True, insecure: bool = False,
                 catalog: wx.Catalog, namespace: str = HYPERV_NAMESPACE,
                 max_elements: int = 500, operation_timeout: int = 60,
                 max_concurrency: int = 4) -> None:
        if auth.lower() not in AUTHS:
            raise errors.InvalidParameter(
                where=f"connection to {server}",
                detail=f"auth={auth} is not supported; use one of {', '.join(sorted(AUTHS))}")
        if not ssl and auth.lower() not in ENCRYPTING_AUTHS and not insecure:
            raise errors.InvalidParameter(
                where=f"connection to {server}",
                detail=f"plain HTTP with {auth} authentication would send credentials and data "
                       "in the clear; use HTTPS, an encrypting authentication (ntlm, kerberos, "
                       "credssp) or the explicit insecure option")
        self.host = server
        self.namespace = namespace
        self.catalog = catalog
        self.username = username
        self.max_elements = max_elements
        self._options: dict[str, Any] = {"server": server, "port": port, "ssl": ssl, "path": path,
                         "username": username, "password": password, "auth": auth,
                         "cert_validation": verify,
                         "encryption": "auto" if ssl or auth.lower() in ENCRYPTING_AUTHS
                         else "never", "operation_timeout": operation_timeout,
                         "read_timeout": operation_timeout + 10, "connection_timeout": 15}
        self._pool: queue.LifoQueue[WSMan] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max_concurrency)

    # -- plumbing ---------------------------------------------------------------
    @contextmanager
    def _client(self) -> Iterator[WSMan]:
        with self._slots:
            try:
                client = self._pool.get_nowait()
            except queue.Empty:
                client = WSMan(**self._options)
            try:
                yield client
            except BaseException:
                client = None  # type: ignore[assignment]  # a broken connection is not reused
                raise
            finally:
                if client is not None:
                    self._pool.put(client)

    def _send(self, action: str, uri: str, body: ET.Element | None,
              selectors: Mapping[str, Any] | None = None) -> ET.Element:
        selector_set = None
        if selectors:
            selector_set = SelectorSet()
            for name, value in selectors.items():
                selector_set.add_option(name, wx.format_scalar(value))
        try:
            with self._client() as client:
                envelope = client.invoke(action, uri, body, selector_set=selector_set)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed error
            raise self._error(exc) from exc
        found = envelope.find(wx.q(wx.S, "Body"))
        return found if found is not None else envelope

    def _error(self, exc: Exception) -> errors.CimError:
        if isinstance(exc, errors.CimError):
            return exc
        if _http_status(exc) == 413:
            # Not worth retrying: the same request stays too large (WinRM's
            # MaxEnvelopeSizekb; pypsrp then fails parsing the empty body).
            return errors.InvalidParameter(
                where=f"request to {self.host}",
                detail="larger than the listener accepts (WinRM MaxEnvelopeSizekb); "
                       "send fewer settings per call")
        if isinstance(exc, WSManFaultError):
            code = int(exc.code) if str(exc.code).isdigit() else None
            return wmi_codes.error_for_code(code, str(exc.reason or exc), self.host)
        if isinstance(exc, AuthenticationError) or (
                isinstance(exc, WinRMTransportError) and exc.code in (401, 403)):
            return errors.AccessDenied(where=f"{self.host} as user {self.username!r}",
                                       detail="the credentials were refused")
        if isinstance(exc, requests.exceptions.SSLError):
            return errors.CertificateNotTrusted(host=self.host, detail=_tls_detail(exc))
        if isinstance(exc, requests.exceptions.Timeout):
            return errors.Timeout(what=f"a request to {self.host}",
                                  seconds=self._options["read_timeout"])
        return errors.TransportError(host=self.host, detail=_first_line(exc))

    # -- reads ------------------------------------------------------------------
    def query(self, wql: str, namespace: str | None = None) -> list[Instance]:
        uri = wx.resource_uri(namespace or self.namespace, "*")
        body = _enumerate_body(wql, self.max_elements)
        response = self._send(wx.ENUMERATE, uri, body)
        items, context, done = _page(response, "EnumerateResponse")
        results = [self._item(item, wql, namespace) for item in items]
        while not done and context:
            pulled = self._send(wx.PULL, uri, _pull_body(context, self.max_elements))
            items, context, done = _page(pulled, "PullResponse")
            results += [self._item(item, wql, namespace) for item in items]
        return results

    def _item(self, item: ET.Element, wql: str, namespace: str | None = None) -> Instance:
        namespace = namespace or self.namespace
        elements = [child for child in item if child.tag != wx.q(wx.WSA, "EndpointReference")]
        epr = item.find(wx.q(wx.WSA, "EndpointReference"))
        if item.tag != wx.q(wx.WSMAN, "Item"):
            elements, epr = [item], None
        path = wx.parse_epr(epr, self.catalog) if epr is not None else None
        elem = elements[0]
        if elem.tag.endswith("}XmlFragment") or elem.tag == "XmlFragment":
            return self._fragment(elem, wql, path, namespace)
        instance = wx.parse_instance(elem, self.catalog, path, namespace)
        if path is None:
            return Instance(instance.class_name, instance.properties,
                            wx.instance_path(instance, self.catalog, namespace),
                            instance.cim_types)
        return instance

    def _fragment(self, elem: ET.Element, wql: str, path: Reference | None,
                  namespace: str) -> Instance:
        from winstackers.cim import wql as wql_parser

        parsed = wql_parser.parse(wql)
        class_name = parsed.class_name if isinstance(parsed, wql_parser.SelectQuery) else ""
        selected = parsed.properties or () if isinstance(parsed, wql_parser.SelectQuery) else ()
        uri = wx.resource_uri(namespace, class_name)
        wrapper = ET.Element(wx.q(uri, class_name))
        for child in elem:
            moved = ET.SubElement(wrapper, wx.q(uri, child.tag.rpartition("}")[2]), child.attrib)
            moved.text = child.text
            moved.extend(list(child))
        instance = wx.parse_instance(wrapper, self.catalog, path, namespace, selected=selected)
        return Instance(instance.class_name, instance.properties,
                        path or wx.instance_path(instance, self.catalog, namespace),
                        instance.cim_types)

    def get(self, ref: Reference) -> Instance:
        response = self._send(wx.GET, wx.resource_uri(ref.namespace, ref.class_name), None,
                              dict(ref.keys))
        elements = list(response)
        if not elements:
            raise errors.NotFound(what=f"instance {ref}")
        return wx.parse_instance(elements[0], self.catalog, ref, ref.namespace)

    def associators(self, ref: Reference, *, assoc_class: str | None = None,
                    result_class: str | None = None, role: str | None = None,
                    result_role: str | None = None) -> list[Instance]:
        terms = {"AssocClass": assoc_class, "ResultClass": result_class, "Role": role,
                 "ResultRole": result_role}
        return self.query(_path_query("ASSOCIATORS", ref, terms))

    def references(self, ref: Reference, *, result_class: str | None = None,
                   role: str | None = None) -> list[Instance]:
        return self.query(_path_query("REFERENCES", ref,
                                      {"ResultClass": result_class, "Role": role}))

    # -- methods and writes -----------------------------------------------------
    def invoke(self, target: Reference, method: str,
               params: Mapping[str, Any] | None = None) -> MethodResult:
        encoded = {name: embedded.encode_parameter(value) for name, value in (params or {}).items()}
        body = wx.method_input(target.namespace, target.class_name, method, encoded)
        action = wx.method_action(target.namespace, target.class_name, method)
        response = self._send(action, wx.resource_uri(target.namespace, target.class_name),
                              body, dict(target.keys))
        output = next(iter(response), None)
        if output is None:
            raise errors.TransportError(host=self.host, detail=f"{method}: empty response")
        kinds = self.catalog.parameter_kinds(target.class_name, method, "out")
        return_value, out = wx.parse_method_output(output, kinds, self.catalog)
        return MethodResult(return_value, out, wx.method_error_description(output))

    def create(self, instance: Instance) -> Reference:
        body = wx.instance_element(instance, self.namespace)
        response = self._send(wx.CREATE, wx.resource_uri(self.namespace, instance.class_name),
                              body)
        created = response.find(f".//{wx.q(wx.WXF, 'ResourceCreated')}")
        if created is None:
            raise errors.TransportError(host=self.host, detail="Create: no ResourceCreated")
        return wx.parse_epr(created, self.catalog)

    def modify(self, instance: Instance) -> Instance:
        if instance.path is None:
            raise errors.InvalidParameter(where="modify", detail="the instance has no path")
        body = wx.instance_element(instance, self.namespace)
        response = self._send(wx.PUT, wx.resource_uri(instance.path.namespace,
                                                      instance.class_name),
                              body, dict(instance.path.keys))
        elements = list(response)
        return wx.parse_instance(elements[0], self.catalog, instance.path) if elements \
            else instance

    def delete(self, ref: Reference) -> None:
        self._send(wx.DELETE, wx.resource_uri(ref.namespace, ref.class_name), None,
                   dict(ref.keys))

    def new_instance(self, class_name: str,
                     properties: Mapping[str, Any] | None = None) -> Instance:
        types = self.catalog.property_types(class_name)
        if not types:
            raise errors.NotFound(what=f"class {class_name!r} (not in the class catalog)")
        lower = {name.lower(): name for name in types}
        values = dict(self.catalog.defaults(class_name))  # type: ignore[attr-defined]
        for name, value in (properties or {}).items():
            if name.lower() not in lower:
                raise errors.InvalidParameter(where=class_name,
                                              detail=f"class has no property {name!r}")
            values[lower[name.lower()]] = value
        return Instance(class_name, values, None, dict(types))

    def close(self) -> None:
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


def _http_status(exc: BaseException | None) -> int | None:
    """The HTTP status of a WinRM transport error in *exc*'s chain, if any."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, WinRMTransportError):
            return int(exc.code) if str(exc.code).isdigit() else None
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def _tls_detail(exc: Exception) -> str:
    """OpenSSL's reason, without urllib3's wrapping, and what to do."""
    text = str(exc)
    # OpenSSL's reason runs to "(_ssl.c:NNN)" and may quote a name.
    reason = (re.search(r"\[SSL[^\]]*\] (.+?)\.? \(_ssl\.c:\d+\)", text)
              or re.search(r"\[SSL[^\]]*\] ([^(']+)", text))
    return (f"{reason.group(1).strip() if reason else _first_line(exc)}; trust its CA with "
            "verify=<CA bundle path>, or turn verification off with verify=false")


def _path_query(kind: str, ref: Reference, terms: Mapping[str, str | None]) -> str:
    where = " ".join(f"{name} = {value}" for name, value in terms.items() if value)
    return f"{kind} OF {{{ref.path}}}" + (f" WHERE {where}" if where else "")


def _enumerate_body(wql: str, max_elements: int) -> ET.Element:
    body = ET.Element(wx.q(wx.WSEN, "Enumerate"))
    ET.SubElement(body, wx.q(wx.WSMAN, "OptimizeEnumeration"))
    ET.SubElement(body, wx.q(wx.WSMAN, "MaxElements")).text = str(max_elements)
    ET.SubElement(body, wx.q(wx.WSMAN, "Filter"), Dialect=wx.WQL_DIALECT).text = wql
    ET.SubElement(body, wx.q(wx.WSMAN, "EnumerationMode")).text = "EnumerateObjectAndEPR"
    return body


def _pull_body(context: str, max_elements: int) -> ET.Element:
    body = ET.Element(wx.q(wx.WSEN, "Pull"))
    ET.SubElement(body, wx.q(wx.WSEN, "EnumerationContext")).text = context
    ET.SubElement(body, wx.q(wx.WSEN, "MaxElements")).text = str(max_elements)
    return body


def _page(body: ET.Element, response: str) -> tuple[list[ET.Element], str | None, bool]:
    """(items, next context, end of sequence) of an Enumerate/Pull response;
    Items and EndOfSequence are accepted in the wsen or wsman namespace."""
    answer = body.find(wx.q(wx.WSEN, response))
    if answer is None:
        return [], None, True
    items: list[ET.Element] = []
    for ns in (wx.WSEN, wx.WSMAN):
        found = answer.find(wx.q(ns, "Items"))
        if found is not None:
            items += list(found)
    done = any(answer.find(wx.q(ns, "EndOfSequence")) is not None for ns in (wx.WSEN, wx.WSMAN))
    context_elem = answer.find(wx.q(wx.WSEN, "EnumerationContext"))
    context = context_elem.text if context_elem is not None else None
    return items, context, done
