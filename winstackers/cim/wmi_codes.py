"""WMI error codes carried in WS-Management faults, and the seam's errors.

A WMI operation that fails over WinRM answers with a SOAP fault whose
``WSManFault`` element carries a numeric ``Code`` (MS-WSMV 2.2.4.43): a
WMI HRESULT such as ``WBEM_E_NOT_FOUND`` (WMI error constants:
https://learn.microsoft.com/en-us/windows/win32/wmisdk/wmi-error-constants)
or a WinRM one such as 0x8033801A (resource not found).  The client maps
codes to typed errors with :func:`error_for_code`; the emulator's server
picks a code for an error with :func:`code_for_error`.
"""

from __future__ import annotations

from winstackers.cim import errors

WBEM_E_FAILED = 0x80041001
WBEM_E_NOT_FOUND = 0x80041002
WBEM_E_ACCESS_DENIED = 0x80041003
WBEM_E_INVALID_PARAMETER = 0x80041008
WBEM_E_NOT_SUPPORTED = 0x8004100C
WBEM_E_INVALID_CLASS = 0x80041010
WBEM_E_INVALID_QUERY = 0x80041017
WBEM_E_INVALID_METHOD = 0x8004102E
WBEM_E_INVALID_OPERATION = 0x80041016
WBEM_E_TRANSPORT_FAILURE = 0x80041015
WSMAN_RESOURCE_NOT_FOUND = 0x8033801A
#: wsen:InvalidEnumerationContext (wsmerror.h): the enumeration must restart.
WSMAN_INVALID_ENUMERATION_CONTEXT = 0x8033801B
ERROR_ACCESS_DENIED = 5

_CLASSES: dict[int, type[errors.CimError]] = {
    WBEM_E_NOT_FOUND: errors.NotFound,
    WBEM_E_INVALID_CLASS: errors.NotFound,
    WBEM_E_INVALID_METHOD: errors.NotFound,
    WSMAN_RESOURCE_NOT_FOUND: errors.NotFound,
    WBEM_E_ACCESS_DENIED: errors.AccessDenied,
    ERROR_ACCESS_DENIED: errors.AccessDenied,
    WBEM_E_INVALID_PARAMETER: errors.InvalidParameter,
    WBEM_E_INVALID_QUERY: errors.InvalidQuery,
    WBEM_E_NOT_SUPPORTED: errors.NotSupported,
    WBEM_E_INVALID_OPERATION: errors.InvalidState,
    WBEM_E_TRANSPORT_FAILURE: errors.TransportError,
    WSMAN_INVALID_ENUMERATION_CONTEXT: errors.TransportError,
}

#: error class -> (code, SOAP fault subcode) used by the emulator's server.
_CODES: list[tuple[type[errors.CimError], int, str]] = [
    (errors.InvalidQuery, WBEM_E_INVALID_QUERY, "wsen:CannotProcessFilter"),
    (errors.InvalidParameter, WBEM_E_INVALID_PARAMETER, "w:InvalidParameter"),
    (errors.NotFound, WBEM_E_NOT_FOUND, "w:InvalidSelectors"),
    (errors.NotSupported, WBEM_E_NOT_SUPPORTED, "w:ActionNotSupported"),
    (errors.AccessDenied, WBEM_E_ACCESS_DENIED, "w:AccessDenied"),
    (errors.InvalidState, WBEM_E_INVALID_OPERATION, "w:InternalError"),
    (errors.TransportError, WBEM_E_TRANSPORT_FAILURE, "a:EndpointUnavailable"),
]


def error_for_code(code: int | None, message: str, host: str) -> errors.CimError:
    """The typed error for a fault with WMI/WinRM *code* from *host*."""
    cls = _CLASSES.get(code or 0, errors.CimError)
    text = f"{host}: {message}"
    return cls(text, code=code)


def code_for_error(error: errors.CimError) -> tuple[int, str]:
    """(WSManFault Code, SOAP subcode) for an error the server reports."""
    for cls, code, subcode in _CODES:
        if isinstance(error, cls):
            return code, subcode
    return WBEM_E_FAILED, "w:InternalError"
