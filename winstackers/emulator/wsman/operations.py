"""WS-Management actions of the emulated WinRM listener, mapped onto an
:class:`~winstackers.emulator.hyperv.host.EmulatedHost`.

==========================================  =====================================
Action (MS-WSMV 3.1.4)                       host call
==========================================  =====================================
``.../enumeration/Enumerate``, Pull,         ``query`` (WQL filter), see
Release (3.1.4.8-3.1.4.10)                   :mod:`.enumeration`
``.../transfer/Get`` (3.1.4.2, 4.1.1)        ``get`` (selectors -> reference)
``.../transfer/Put`` (3.1.4.3, 4.1.3)        ``modify`` (refused by the host)
``.../transfer/Create``, ``Delete``          ``create``, ``delete`` (refused)
(3.1.4.4, 3.1.4.5)
``<class URI>/<Method>`` (3.1.4.1.32, 4.1.4) ``invoke``: ``<Method>_INPUT`` in,
                                             ``<Method>_OUTPUT`` out
==========================================  =====================================

Values are encoded and decoded by :mod:`winstackers.cim.wsman_xml`, the
codec the client transport uses, typed by the class declarations
(:class:`winstackers.cim.mof.MofCatalog`).  Every failure becomes a SOAP
fault: host errors through :func:`winstackers.cim.wmi_codes.code_for_error`,
protocol errors with WinRM's codes, and anything unexpected as a
``w:InternalError`` whose text never carries a stack trace.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

from winstackers.cim import wmi_codes
from winstackers.cim import wsman_xml as wx
from winstackers.cim.errors import CimError, InvalidParameter
from winstackers.cim.mof import MofCatalog
from winstackers.cim.values import Reference
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman import enumeration, soap
from winstackers.emulator.wsman.soap import (
    ERROR_WSMAN_ACTION_NOT_SUPPORTED,
    Request,
    SoapFault,
    invalid_body,
    split_resource_uri,
)

LOG = logging.getLogger(__name__)
Handler = Callable[[EmulatedHost, Request], ET.Element | None]


class WsmanService:
    """Answers WS-Management request envelopes for the host that
    *host_source* returns (looked up per request, so tests can swap it)."""

    def __init__(self, host_source: Callable[[], EmulatedHost], *,
                 enumeration_timeout: float = enumeration.ENUMERATION_TIMEOUT) -> None:
        self._host_source = host_source
        self.catalog = MofCatalog()
        self.enumerations = enumeration.Enumerations(enumeration_timeout)
        self._handlers: Mapping[str, Handler] = {
            wx.ENUMERATE: lambda host, req: enumeration.enumerate_(host, req, self.enumerations),
            wx.PULL: lambda _, req: enumeration.pull(req, self.enumerations),
            wx.RELEASE: lambda _, req: enumeration.release(req, self.enumerations),
            wx.GET: self._get, wx.PUT: self._put, wx.CREATE: self._create,
            wx.DELETE: self._delete,
        }

    def handle(self, data: bytes) -> tuple[int, bytes]:
        """(HTTP status, response envelope) for a request envelope: 200 with
        the response, or 500 with a fault."""
        host = self._host_source()
        request: Request | None = None
        try:
            request = soap.parse_request(data)
            handler = self._handlers.get(request.action, self._invoke)
            return 200, soap.response(request, handler(host, request))
        except Exception as exc:  # noqa: BLE001 - every failure is answered with a fault
            relates_to = request.message_id if request else None
            return 500, soap.fault(self._fault(exc, request), host.name, relates_to)

    @staticmethod
    def _fault(exc: Exception, request: Request | None) -> SoapFault:
        if isinstance(exc, SoapFault):
            return exc
        if isinstance(exc, CimError):
            return SoapFault.from_error(exc)
        if isinstance(exc, ValueError):
            return invalid_body(f"a value in the request cannot be read: {exc}")
        LOG.exception("internal error answering %s", request.action if request else "a request")
        return SoapFault(wmi_codes.WBEM_E_FAILED, "w:InternalError",
                         "internal error in the emulated host (see its log)", receiver=True)

    # -- transfer ----------------------------------------------------------------
    def _reference(self, request: Request) -> Reference:
        """The instance the resource URI and selectors name (MS-WSMV
        3.1.4.1.2: selector names are case-insensitive; ``__cimnamespace``
        is ignored on WMI URIs)."""
        namespace, class_name = split_resource_uri(request.resource_uri)
        if class_name == "*":
            raise InvalidParameter(where="resource URI", detail="'*' names no class; "
                                   "address an instance by its class URI")
        keys = wx.parse_selectors(request.selectors, class_name, self.catalog)
        return Reference.build(namespace, class_name, {
            name: value for name, value in keys.items() if name.lower() != "__cimnamespace"})

    def _get(self, host: EmulatedHost, request: Request) -> ET.Element:
        ref = self._reference(request)
        return wx.instance_element(host.get(ref), ref.namespace)

    def _put(self, host: EmulatedHost, request: Request) -> ET.Element:
        ref = self._reference(request)
        if request.body is None:
            raise invalid_body("Put needs the instance in the body")
        instance = wx.parse_instance(request.body, self.catalog, ref, ref.namespace)
        return wx.instance_element(host.modify(instance), ref.namespace)

    def _create(self, host: EmulatedHost, request: Request) -> ET.Element:
        namespace, _ = split_resource_uri(request.resource_uri)
        if request.body is None:
            raise invalid_body("Create needs the instance in the body")
        created = host.create(wx.parse_instance(request.body, self.catalog, None, namespace))
        return wx.epr_children(ET.Element(wx.q(wx.WXF, "ResourceCreated")), created)

    def _delete(self, host: EmulatedHost, request: Request) -> None:
        host.delete(self._reference(request))

    # -- methods -----------------------------------------------------------------
    def _invoke(self, host: EmulatedHost, request: Request) -> ET.Element:
        """A custom action: ``<class URI>/<Method>`` (MS-WSMV 3.1.4.1.32, 4.1.4)."""
        method = _method_name(request)
        target = self._reference(request)
        params = self._inputs(request.body, target.class_name, method)
        result = host.invoke(target, method, params)
        return wx.method_output(target.namespace, target.class_name, method,
                                result.return_value, result.out, result.error_description)

    def _inputs(self, body: ET.Element | None, class_name: str,
                method: str) -> dict[str, object]:
        if body is None:
            return {}
        if _local(body.tag).lower() != f"{method}_INPUT".lower():
            raise invalid_body(f"the body of {method} must be {method}_INPUT, "
                               f"not {_local(body.tag)}")
        kinds = self.catalog.parameter_kinds(class_name, method, "in")
        # An undeclared method gets its parameters as text: the host then
        # refuses the method itself (unknown, or not emulated).
        return wx.parse_method_input(body, kinds or {_local(c.tag): "string" for c in body},
                                     self.catalog)


def _method_name(request: Request) -> str:
    prefix = request.resource_uri.rstrip("/") + "/"
    rest = request.action[len(prefix):]
    if not request.action.lower().startswith(prefix.lower()) or not rest or "/" in rest:
        raise SoapFault(ERROR_WSMAN_ACTION_NOT_SUPPORTED, "a:ActionNotSupported",
                        f"the action {request.action!r} is not supported on "
                        f"{request.resource_uri}")
    return rest


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]
