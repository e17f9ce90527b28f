"""The Hyper-V agent's options: registered here, checked at start.

Options (``oslo-config-generator --namespace winstackers.neutron.agent``
documents them, through :func:`list_opts`):

``[AGENT]``
    ``physical_network_vswitch_mappings``, ``local_network_vswitch`` and
    ``worker_count`` keep the names and meaning they had in the retired
    networking-hyperv.  ``polling_interval`` and ``report_interval`` are
    neutron's own options (``neutron.conf.plugins.ml2.drivers.agent`` and
    ``neutron.conf.agent.common``), registered from neutron's definitions so
    that a process loading both never meets oslo.config's
    ``DuplicateOptError``.
``[hyperv_host]``
    ``url`` and ``password``: how to reach the Hyper-V host
    (:func:`winstackers.cim.connect`).

Bad values stop the agent at start (:class:`AgentConfigError`) with a
message naming the option: a malformed mapping, an unknown URL scheme (both
checked without the host), a mapping or the local vSwitch naming a vSwitch
the host does not have (checked against the host's facts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from neutron.conf.agent import common as agent_common
from neutron.conf.plugins.ml2.drivers import agent as ml2_agent
from oslo_config import cfg

from winstackers.cim import redact
from winstackers.hyperv.hostinfo import HostInfo

AGENT = "AGENT"
HOST = "hyperv_host"
SCHEMES = ("emulator", "https", "http", "mi", "local")

AGENT_OPTS = [
    cfg.ListOpt("physical_network_vswitch_mappings", default=[],
                help="Physical networks and the Hyper-V vSwitches that reach them, as "
                     "<physical_network>:<vSwitch name>. A '*' in the physical network "
                     "stands for any run of characters, so '*' alone maps every physical "
                     "network not named otherwise; an exact name wins over a pattern, a "
                     "longer pattern over a shorter. "
                     "Every vSwitch named must exist on the host."),
    cfg.StrOpt("local_network_vswitch",
               help="The vSwitch (typically a private one) for ports of 'local' "
                    "networks. Unset: ports of local networks are not wired."),
    cfg.IntOpt("worker_count", default=10, min=1,
               help="How many host calls the agent runs at once (the size of its "
                    "thread pool for port programming)."),
]

HOST_OPTS = [
    cfg.StrOpt("url",
               help="The Hyper-V host to manage: 'https://USER@HOST:5986/wsman?auth=ntlm' "
                    "(WS-Management), 'local://' (WMI on this Windows host), or "
                    "'emulator:///path/state.json' (an emulated host, for tests and demos)."),
    cfg.StrOpt("password", secret=True,
               help="The password of the user in 'url' (never put it in the URL)."),
]


class AgentConfigError(ValueError):
    """A bad option value; the message names the option."""

    def __init__(self, group: str, option: str, detail: str) -> None:
        super().__init__(f"[{group}] {option}: {detail}")
        self.group, self.option, self.detail = group, option, detail


def neutron_agent_opts() -> list[cfg.Opt]:
    """neutron's own ``[AGENT]`` options this agent reads (the same objects
    neutron registers, so registering them twice is harmless)."""
    wanted = ("polling_interval", "report_interval")
    opts = ml2_agent.agent_opts + agent_common.AGENT_STATE_OPTS
    return [opt for opt in opts if opt.name in wanted]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The agent's options by group, for ``oslo-config-generator``
    (entry point ``oslo.config.opts``: ``winstackers.neutron.agent``; the
    group spelt ``agent`` as in neutron's own ``list_opts``)."""
    return [(AGENT.lower(), AGENT_OPTS + neutron_agent_opts()), (HOST, list(HOST_OPTS))]


def register_opts(conf: cfg.ConfigOpts = cfg.CONF) -> None:
    """Register every option the agent reads on *conf* (``[AGENT]`` as
    neutron registers it)."""
    conf.register_opts(AGENT_OPTS + neutron_agent_opts(), AGENT)
    conf.register_opts(HOST_OPTS, HOST)


@dataclass(frozen=True)
class AgentSettings:
    """The agent's options, parsed and checked (without the host)."""

    vswitch_mappings: dict[str, str]
    local_vswitch: str | None
    polling_interval: float
    report_interval: float
    worker_count: int
    url: str
    password: str | None
    host: str

    @property
    def vswitches(self) -> set[str]:
        """Every vSwitch the options name."""
        named = set(self.vswitch_mappings.values())
        return named | {self.local_vswitch} if self.local_vswitch else named


def parse_mappings(items: Iterable[str]) -> dict[str, str]:
    """``physnet:vSwitch`` items as a dict (the vSwitch may hold ``:``).

    :raises AgentConfigError: naming ``physical_network_vswitch_mappings``.
    """
    mappings: dict[str, str] = {}
    for item in items:
        physnet, sep, vswitch = (part.strip() for part in item.partition(":"))
        if not sep or not physnet or not vswitch:
            raise _mapping_error(f"{item!r} is not <physical_network>:<vSwitch>")
        if physnet in mappings:
            raise _mapping_error(f"physical network {physnet!r} is mapped twice")
        mappings[physnet] = vswitch
    return mappings


def _mapping_error(detail: str) -> AgentConfigError:
    return AgentConfigError(AGENT, "physical_network_vswitch_mappings", detail)


def check_url(url: str | None) -> str:
    """*url* when its scheme is one :func:`winstackers.cim.connect` knows.

    :raises AgentConfigError: naming ``[hyperv_host] url``.
    """
    if not url:
        raise AgentConfigError(HOST, "url", "is required (the Hyper-V host to manage)")
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        raise AgentConfigError(HOST, "url", f"{redact(url)!r}: unknown scheme {scheme!r}; "
                               f"use one of {', '.join(s + '://' for s in SCHEMES)}")
    if urlsplit(url).password:
        raise AgentConfigError(HOST, "url", f"{redact(url)!r}: put the password in "
                               f"[{HOST}] password, not in the URL")
    return url


def load(conf: cfg.ConfigOpts = cfg.CONF) -> AgentSettings:
    """The agent's settings from *conf* (options registered and parsed).

    :raises AgentConfigError: naming the first bad option.
    """
    agent, host = conf[AGENT], conf[HOST]
    local = (agent.local_network_vswitch or "").strip() or None
    return AgentSettings(
        vswitch_mappings=parse_mappings(agent.physical_network_vswitch_mappings),
        local_vswitch=local, polling_interval=float(agent.polling_interval),
        report_interval=float(agent.report_interval), worker_count=agent.worker_count,
        url=check_url(host.url), password=host.password, host=conf.host)


def check_against_host(settings: AgentSettings, info: HostInfo) -> None:
    """Every vSwitch the options name exists on the host.

    :raises AgentConfigError: naming the option and the host's vSwitches.
    """
    have = sorted(s.name for s in info.switches)
    for physnet, vswitch in settings.vswitch_mappings.items():
        if info.switch(vswitch) is None:
            raise _mapping_error(f"{physnet!r} maps to vSwitch {vswitch!r}, which host "
                                 f"{info.name} does not have ({_listing(have)})")
    local = settings.local_vswitch
    if local is not None and info.switch(local) is None:
        raise AgentConfigError(AGENT, "local_network_vswitch", f"vSwitch {local!r} does not "
                               f"exist on host {info.name} ({_listing(have)})")


def _listing(names: Sequence[str]) -> str:
    return f"it has: {', '.join(names)}" if names else "it has no vSwitch"
