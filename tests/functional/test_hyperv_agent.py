"""``neutron-hyperv-agent`` as a real process against the run's neutron-server.

The agent reaches the emulated host over WS-Management (the served
emulator) and neutron over RabbitMQ; skipped while the agent is not built.
"""

from __future__ import annotations

from winstackers.neutron.constants import AGENT_TYPE_HYPERV
from winstackers.neutron.fixtures import NeutronClient
from winstackers.neutron.fixtures.agents import find_agent

from .conftest import (
    LOCAL_VSWITCH,
    PHYSNET,
    SRIOV_PHYSNET,
    SRIOV_VSWITCH,
    VSWITCH,
    HyperVAgentOnHost,
)


def test_agent_is_listed_alive_with_its_mappings(client: NeutronClient,
                                                 hyperv_agent: HyperVAgentOnHost) -> None:
    agent = find_agent(client, hyperv_agent.agent.host, AGENT_TYPE_HYPERV)
    assert agent is not None and agent["alive"] is True
    assert agent["binary"] == "neutron-hyperv-agent"
    assert agent["configurations"]["vswitch_mappings"] == {PHYSNET: VSWITCH,
                                                           SRIOV_PHYSNET: SRIOV_VSWITCH}
    assert agent["configurations"]["sriov_vswitches"] == [SRIOV_VSWITCH]
    assert agent["configurations"]["local_vswitch"] == LOCAL_VSWITCH
