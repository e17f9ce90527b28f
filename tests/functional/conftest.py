"""Functional tests: a real neutron-server 29 on MariaDB and RabbitMQ.

One neutron-server (API under uwsgi + neutron-rpc-server, from
:mod:`winstackers.neutron.fixtures`) serves the whole run, configured with
what is built: the ``hyperv`` mechanism driver when
``winstackers.neutron.ml2.mech_hyperv`` exists (else none), the ``trunk`` and
``qos`` service plugins when our drivers for them exist.  Tests make their
own networks and ports and give every agent a fresh host name, so they do
not depend on one another.

The end-to-end scenarios (``test_*_scenario*.py``, ``test_network_types``,
``test_qos_sriov``, ...) share :mod:`.scenarios` (helpers) and the fixtures
here: ``scenario``, one real ``neutron-hyperv-agent`` per test module on a
fresh served emulated host (``scenario_host_config``, which a module may
override), and ``make_group`` (security groups).

When MariaDB or RabbitMQ cannot be reached (or the ``neutron`` extra is not
installed) the functional tests are skipped with the reason, unless
``WINSTACKERS_REQUIRE_FUNCTIONAL`` is set (``tools/test.sh`` and so CI set
it): then they fail, since a CI that skipped them would prove nothing.

The configuration, logs and agent files of the run stay in pytest's
temporary directory (``pytest-of-USER/pytest-N/neutron0``) for a look
after a failure.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from winstackers.emulator.hyperv.config import HostConfig, SwitchSpec
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.neutron.constants import AGENT_TYPE_HYPERV

if TYPE_CHECKING:
    from winstackers.neutron.fixtures import AgentProcess, NeutronClient, NeutronServer

    from .scenarios import Scenario

try:
    from winstackers.neutron import fixtures as nf
    IMPORT_PROBLEM: str | None = None
except ImportError as exc:  # the neutron extra is missing
    IMPORT_PROBLEM = (f"the neutron extra is not installed ({exc}); "
                      "run tools/setup.sh or pip install -e '.[test,neutron]'")

REQUIRED = os.environ.get("WINSTACKERS_REQUIRE_FUNCTIONAL", "") not in ("", "0")

# Without the neutron extra the test modules cannot even be imported: leave
# them out (the summary says why), unless they are required.
collect_ignore_glob = ["test_*.py"] if IMPORT_PROBLEM and not REQUIRED else []

#: The physical network the server's VLAN ranges and the agents' mappings name.
PHYSNET = "physnet1"
VSWITCH = "vSwitch-physnet1"
LOCAL_VSWITCH = "vSwitch-private"
#: A second physical network, mapped by the real agent to the emulated
#: host's SR-IOV vSwitch (the fake agent does not map it).
SRIOV_PHYSNET = "physnet2"
SRIOV_VSWITCH = "vSwitch-sriov"
#: ``[ml2_type_vlan] network_vlan_ranges`` of the test server.
VLAN_RANGES = {PHYSNET: range(100, 201), SRIOV_PHYSNET: range(300, 321)}

#: Seconds the session spent starting neutron-server (shown in the summary).
TIMINGS: dict[str, float] = {}


def built(module: str) -> bool:
    """Whether *module* of Winstackers exists (without importing neutron)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


MECH_DRIVER_BUILT = built("winstackers.neutron.ml2.mech_hyperv")
NOT_BUILT = "mech driver not built yet (winstackers.neutron.ml2.mech_hyperv is missing)"


def services_missing() -> str | None:
    """Why the functional tests cannot run here, or None."""
    if IMPORT_PROBLEM:
        return IMPORT_PROBLEM
    return nf.mariadb.unreachable_reason() or nf.rabbitmq.unreachable_reason()


def skip_or_fail(reason: str) -> None:
    """Skip with *reason*, or fail when the functional tests are required."""
    if REQUIRED:
        pytest.fail(f"WINSTACKERS_REQUIRE_FUNCTIONAL is set but {reason}", pytrace=False)
    pytest.skip(f"functional tests skipped: {reason}")


def server_options() -> nf.NeutronOptions:
    """The test server's configuration, given what is built."""
    plugins = tuple(name for name in ("trunk", "qos")
                    if MECH_DRIVER_BUILT and built(f"winstackers.neutron.services.{name}.hyperv"))
    ranges = tuple(f"{physnet}:{ids.start}:{ids.stop - 1}" for physnet, ids in VLAN_RANGES.items())
    return nf.NeutronOptions(mechanism_drivers=("hyperv",) if MECH_DRIVER_BUILT else (),
                             service_plugins=plugins, network_vlan_ranges=ranges)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how long neutron-server took to start, or why nothing ran."""
    if collect_ignore_glob:
        terminalreporter.write_line(f"functional tests not collected: {IMPORT_PROBLEM}")
    if TIMINGS:
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in TIMINGS.items())
        terminalreporter.write_line(f"functional: neutron-server start: {parts}")


@pytest.fixture(scope="session")
def local_services() -> None:
    """MariaDB and RabbitMQ are reachable (else the test is skipped or fails)."""
    reason = services_missing()
    if reason:
        skip_or_fail(reason)


@pytest.fixture(scope="session")
def neutron(local_services: None,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeutronServer]:
    """The run's neutron-server."""
    started = time.monotonic()
    with nf.neutron_server(server_options(), workdir=tmp_path_factory.mktemp("neutron"),
                           name=f"winstackers_functional_{secrets.token_hex(4)}") as server:
        TIMINGS.update(server.timings, total=time.monotonic() - started)
        yield server


@pytest.fixture
def client(neutron: NeutronServer) -> NeutronClient:
    """The REST client of the run's neutron-server (admin, under noauth)."""
    return neutron.client


@pytest.fixture
def mech_driver() -> None:
    """Skip the test until our mechanism driver exists."""
    if not MECH_DRIVER_BUILT:
        pytest.skip(NOT_BUILT)


@pytest.fixture
def host_name() -> str:
    """A host name no other test uses (agents' rows outlive their process)."""
    return f"hv-{secrets.token_hex(4)}"


def agent_configurations() -> dict[str, Any]:
    """What a Hyper-V agent with the test mappings reports
    (:mod:`winstackers.neutron.configurations` is the contract)."""
    return {"vswitch_mappings": {PHYSNET: VSWITCH}, "local_vswitch": LOCAL_VSWITCH,
            "sriov_vswitches": [], "supported_vnic_types": ["normal"], "devices": 0}


@pytest.fixture(scope="module")
def fake_hyperv_agent(neutron: NeutronServer) -> Iterator[AgentProcess]:
    """A heartbeat-only "HyperV agent" on a host of its own, listed alive
    (one per module: its start costs a neutron import, ~3 s)."""
    with nf.fake_agent(neutron, f"hv-fake-{secrets.token_hex(4)}", agent_type=AGENT_TYPE_HYPERV,
                       configurations=agent_configurations()) as agent:
        yield agent


@pytest.fixture
def make_network(client: NeutronClient) -> Iterator[Any]:
    """Create networks (``make_network(**attrs)``); each is deleted after the
    test with its ports and subnets."""
    made: list[str] = []

    def make(**attrs: Any) -> dict[str, Any]:
        network = client.create("networks", **{"name": f"net-{secrets.token_hex(3)}", **attrs})
        made.append(network["id"])
        return network

    yield make
    for network_id in reversed(made):
        for port in client.list("ports", network_id=network_id):
            client.delete("ports", port["id"])
        client.delete("networks", network_id)


@dataclass
class EmulatorEndpoint:
    """Where agents reach the emulated Hyper-V host.

    :ivar install: serves a new host there (None: a state-file URL, whose
        host only the agent process sees).
    """

    url: str
    password: str | None
    install: Any = None


def emulated_host_config() -> HostConfig:
    """The test host: the default vSwitches plus a private one for local networks."""
    default = HostConfig()
    return HostConfig(switches=(*default.switches, SwitchSpec(LOCAL_VSWITCH)))


@pytest.fixture(scope="session")
def emulator_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorEndpoint]:
    """The emulated host served over WS-Management (HTTPS) when the served
    emulator exists, else an ``emulator:///`` state file."""
    try:
        from winstackers.emulator.wsman.fixtures import served_host
    except ImportError:
        path = tmp_path_factory.mktemp("emulator") / "host.json"
        yield EmulatorEndpoint(f"emulator://{path}", None)
        return
    with served_host(EmulatedHost(emulated_host_config())) as served:
        def install(host: EmulatedHost) -> None:
            served.server.host = host
        yield EmulatorEndpoint(served.url, served.password, install)


@dataclass
class HyperVAgentOnHost:
    """A running ``neutron-hyperv-agent`` and the emulated host it manages."""

    agent: AgentProcess
    #: The in-process emulated host (None when only the agent can see it).
    host: EmulatedHost | None


def agent_sections(endpoint: EmulatorEndpoint) -> dict[str, dict[str, str]]:
    """The agent's options (``winstackers.neutron.agent.config``) for *endpoint*."""
    host = {"url": endpoint.url}
    if endpoint.password:
        host["password"] = endpoint.password
    mappings = f"{PHYSNET}:{VSWITCH},{SRIOV_PHYSNET}:{SRIOV_VSWITCH}"
    return {"AGENT": {"physical_network_vswitch_mappings": mappings,
                      "local_network_vswitch": LOCAL_VSWITCH,
                      "polling_interval": "1", "report_interval": "5"},
            "hyperv_host": host}


@pytest.fixture
def hyperv_agent(neutron: NeutronServer, emulator_endpoint: EmulatorEndpoint,
                 host_name: str) -> Iterator[HyperVAgentOnHost]:
    """``neutron-hyperv-agent`` as a real process on a fresh emulated host,
    listed alive by neutron; skipped while the agent is not built."""
    missing = nf.agents.hyperv_agent_missing()
    if missing:
        pytest.skip(f"agent not built yet: {missing}")
    host = None
    if emulator_endpoint.install is not None:
        host = EmulatedHost(emulated_host_config())
        emulator_endpoint.install(host)
    with nf.hyperv_agent(neutron, host_name, agent_sections(emulator_endpoint)) as agent:
        yield HyperVAgentOnHost(agent, host)


@pytest.fixture(scope="module")
def scenario_host_config() -> HostConfig:
    """The emulated host of the module's ``scenario`` (a module may override
    this fixture to give its agent another host)."""
    return emulated_host_config()


@pytest.fixture(scope="module")
def scenario(neutron: NeutronServer, emulator_endpoint: EmulatorEndpoint,
             scenario_host_config: HostConfig) -> Iterator[Scenario]:
    """One ``neutron-hyperv-agent`` on a fresh served emulated host, for the
    module (:mod:`.scenarios`); skipped while a part is not built."""
    from .scenarios import running_scenario, scenario_unavailable

    reason = scenario_unavailable(emulator_endpoint)
    if reason:
        pytest.skip(reason)
    with running_scenario(neutron, emulator_endpoint,
                          EmulatedHost(scenario_host_config)) as running:
        yield running


@pytest.fixture
def make_group(client: NeutronClient) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create security groups (``make_group(*rules, stateful=True,
    default_egress=True)``, each rule a dict of attributes, IPv4 unless it
    says otherwise); without *default_egress* the egress rules neutron adds
    to a new group are deleted first.  Deleted after the test, once the
    ports using them are."""
    from .scenarios import add_rule

    made: list[str] = []

    def make(*rules: dict[str, Any], stateful: bool = True,
             default_egress: bool = True) -> dict[str, Any]:
        group: dict[str, Any] = client.request("POST", "security-groups", {"security_group": {
            "name": f"sg-{secrets.token_hex(3)}", "stateful": stateful}})["security_group"]
        made.append(group["id"])
        if not default_egress:
            for rule in group["security_group_rules"]:
                client.request("DELETE", f"security-group-rules/{rule['id']}")
        for rule in rules:
            add_rule(client, group["id"], **rule)
        shown: dict[str, Any] = client.request(
            "GET", f"security-groups/{group['id']}")["security_group"]
        return shown

    yield make
    for group_id in made:
        for port in client.list("ports", security_groups=group_id):
            client.delete("ports", port["id"])
        client.request("DELETE", f"security-groups/{group_id}")
