"""Hyper-V method return codes and what they mean.

Sources (Microsoft Learn, hyperv_v2):

- The Msvm_VirtualSystemManagementService add/modify/remove/define/destroy
  methods: 0 Completed with No Error, 1 Not Supported, 2 Failed, 3 Timeout,
  4 Invalid Parameter, 5 Invalid State, 6 Incompatible Parameters, 4096
  Method Parameters Checked - Job Started
  (e.g. https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/modifyresourcesettings-msvm-virtualsystemmanagementservice).
- GetSummaryInformation, RequestStateChange, Msvm_ImageManagementService and
  Msvm_ConcreteJob.GetError: 32768 Failed, 32769 Access Denied, 32770 Not
  Supported, 32771 Status is unknown, 32772 Timeout, 32773 Invalid
  parameter, 32774 System is in use, 32775 Invalid state for this
  operation, 32776 Incorrect data type, 32777 System is not available,
  32778 Out of memory, 32779 File not found
  (https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/requeststatechange-msvm-computersystem,
  https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/getsummaryinformation-msvm-virtualsystemmanagementservice).
"""

from __future__ import annotations

from winstackers.cim import errors

COMPLETED = 0
JOB_STARTED = 4096

MEANINGS: dict[int, str] = {
    0: "Completed with No Error",
    1: "Not Supported",
    2: "Failed",
    3: "Timeout",
    4: "Invalid Parameter",
    5: "Invalid State",
    6: "Incompatible Parameters",
    4096: "Job Started",
    32768: "Failed",
    32769: "Access Denied",
    32770: "Not Supported",
    32771: "Status is unknown",
    32772: "Timeout",
    32773: "Invalid parameter",
    32774: "System is in use",
    32775: "Invalid state for this operation",
    32776: "Incorrect data type",
    32777: "System is not available",
    32778: "Out of memory",
    32779: "File not found",
}

_ERROR_CLASSES: dict[int, type[errors.CimError]] = {
    1: errors.NotSupported,
    3: errors.Timeout,
    4: errors.InvalidParameter,
    5: errors.InvalidState,
    6: errors.InvalidParameter,
    32769: errors.AccessDenied,
    32770: errors.NotSupported,
    32772: errors.Timeout,
    32773: errors.InvalidParameter,
    32775: errors.InvalidState,
    32776: errors.InvalidParameter,
    32779: errors.NotFound,
}


def meaning(code: int) -> str:
    """Hyper-V's name for return code *code*."""
    if code in MEANINGS:
        return MEANINGS[code]
    if 4097 <= code <= 32767:
        return "Method Reserved"
    return "Vendor Specific" if code >= 32768 else "Unknown"


def error_for(code: int, method: str, target: str, description: str | None) -> errors.CimError:
    """The typed error for a method that returned *code*.

    The message names the method and the target, says Hyper-V's meaning of
    the code and adds the host's own description when there is one.
    """
    detail = f"{method} on {target} returned {code} ({meaning(code)})"
    if description:
        detail = f"{detail}: {description}"
    cls = _ERROR_CLASSES.get(code, errors.MethodFailed)
    return cls(detail, code=code, method=method, target=target)
