"""How emulated methods are declared, and what they hand back to the host.

A provider is a function ``(host, target, params) -> Outcome`` registered
with :func:`method`.  It validates everything first and raises
:class:`MethodError` (a Hyper-V return code and description) to refuse;
only then does it return an :class:`Outcome` whose ``apply`` makes the
change.  The host calls ``apply`` only when the job is not going to fail,
so a refused or failed call leaves the host exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from winstackers.cim.mof import method_params
from winstackers.cim.values import Reference

if TYPE_CHECKING:
    from winstackers.emulator.hyperv.host import EmulatedHost

# Return codes of the VSMS add/modify/remove/define/destroy family.
NOT_SUPPORTED = 1
FAILED = 2
INVALID_PARAMETER = 4
INVALID_STATE = 5
INCOMPATIBLE_PARAMETERS = 6
# Return codes of RequestStateChange / GetSummaryInformation.
ACCESS_DENIED = 32769
INVALID_STATE_32K = 32775
SYSTEM_IN_USE = 32774


class MethodError(Exception):
    """A refusal: the method returns *code* and changes nothing."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


@dataclass
class Outcome:
    """What a provider decided.

    :ivar out: output parameters (``Job`` is added by the host).
    :ivar apply: makes the change; called at most once, under the host lock.
    :ivar as_job: whether the method returns 4096 and a job (Hyper-V runs
        most management methods as jobs).
    :ivar on_complete: runs when the job ends (state transitions).
    """

    out: dict[str, Any] = field(default_factory=dict)
    apply: Callable[[], None] | None = None
    as_job: bool = True
    on_complete: Callable[[], None] | None = None


Provider = Callable[["EmulatedHost", Reference, Mapping[str, Any]], Outcome]


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: class, name, parameter kinds, provider, doc."""

    class_name: str
    name: str
    params: Mapping[str, str]
    provider: Provider
    doc: str


#: (class lower, method lower) -> spec.  Filled by the provider modules.
REGISTRY: dict[tuple[str, str], MethodSpec] = {}


def method(class_name: str, name: str, **params: str) -> Callable[[Provider], Provider]:
    """Register a provider.  The input parameters and their kinds come
    from :data:`winstackers.cim.mof.METHOD_PARAMS`; *params* may give them
    instead for a method not declared there: ``E`` (embedded instance
    string), ``E[]``, ``R`` (reference), ``R[]``, or a CIM type."""
    declared = method_params(class_name, name)
    kinds = dict(params) if params else dict(declared.inputs) if declared else {}

    def register(func: Provider) -> Provider:
        REGISTRY[(class_name.lower(), name.lower())] = MethodSpec(
            class_name, name, kinds, func, (func.__doc__ or "").strip())
        return func

    return register
