"""Trunks: what the agent owes neutron's trunk plugin, on an emulated host.

A trunk parent's switch port goes to trunk mode with its subports' VLANs;
its subports, which have no vNIC of their own, are bound to the parent's
host through neutron's trunk RPC and reported up and down with the parent;
the trunk's status says how that went.  The plugin is the in-memory one
(:mod:`tests.neutron_agent.fakes`); ``tests/functional`` proves the same
against neutron-server.
"""

from __future__ import annotations

from types import SimpleNamespace

from tests.neutron_agent.conftest import Lab
from tests.neutron_agent.fakes import subport_of, trunk_of
from winstackers.hyperv.portstate import Vlan


def test_trunk_parent_binds_its_subports_and_goes_active(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201, 202])
    lab.agent().run_once()

    subs = [subport_of(pid, 201), subport_of(pid, 202)]
    assert lab.state(pid).vlan == Vlan.trunk((201, 202), native_id=100)
    assert lab.plugin.subports_bound == dict.fromkeys(subs, trunk_of(pid))
    assert lab.plugin.trunk_status == {trunk_of(pid): "ACTIVE"}
    assert lab.plugin.status == dict.fromkeys([pid, *subs], "ACTIVE")


def test_subports_are_bound_once_not_at_every_rewire(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201])
    agent = lab.agent()
    agent.run_once()
    lab.callbacks(agent).port_update(None, port={"id": pid})
    agent.run_once()
    assert lab.plugin.calls["update_subport_bindings"] == 1
    assert lab.plugin.trunk_status == {trunk_of(pid): "ACTIVE"}


def test_subport_added_through_a_push_reaches_the_host(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201])
    agent = lab.agent()
    agent.run_once()
    lab.plugin.ports[pid]["trunk_vlans"] = [201, 203]
    added = SimpleNamespace(trunk_id=trunk_of(pid), port_id=subport_of(pid, 203))
    lab.callbacks(agent).subports_pushed(None, "SubPort", [added], "created")
    agent.run_once()

    assert lab.state(pid).vlan == Vlan.trunk((201, 203), native_id=100)
    assert lab.plugin.status[subport_of(pid, 203)] == "ACTIVE"
    assert lab.plugin.calls["update_subport_bindings"] == 2  # only the new one the second time


def test_removed_subport_is_reported_down_and_leaves_the_trunk(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201, 202])
    agent = lab.agent()
    agent.run_once()
    lab.plugin.ports[pid]["trunk_vlans"] = [201]
    removed = SimpleNamespace(trunk_id=trunk_of(pid), port_id=subport_of(pid, 202))
    lab.callbacks(agent).subports_pushed(None, "SubPort", [removed], "deleted")
    agent.run_once()

    assert lab.state(pid).vlan == Vlan.trunk((201,), native_id=100)
    assert lab.plugin.status[subport_of(pid, 202)] == "DOWN"
    assert lab.plugin.status[subport_of(pid, 201)] == "ACTIVE"
    assert lab.plugin.trunk_status[trunk_of(pid)] == "ACTIVE"


def test_trunk_created_on_a_bound_port_switches_it_to_trunk_mode(lab: Lab) -> None:
    pid = lab.plug()
    agent = lab.agent()
    agent.run_once()
    assert lab.state(pid).vlan == Vlan.access(100)
    lab.plugin.ports[pid]["trunk_vlans"] = [210]
    lab.callbacks(agent).trunks_pushed(None, "Trunk", [SimpleNamespace(port_id=pid)], "created")
    agent.run_once()
    assert lab.state(pid).vlan == Vlan.trunk((210,), native_id=100)
    assert lab.plugin.trunk_status == {trunk_of(pid): "ACTIVE"}

    del lab.plugin.ports[pid]["trunk_vlans"]
    lab.callbacks(agent).trunks_pushed(None, "Trunk", [SimpleNamespace(port_id=pid)], "deleted")
    agent.run_once()
    assert lab.state(pid).vlan == Vlan.access(100)


def test_subport_neutron_cannot_bind_degrades_the_trunk_and_is_retried(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201, 202])
    lab.plugin.unbindable.add(subport_of(pid, 202))
    agent = lab.agent()
    agent.run_once()
    assert lab.plugin.trunk_status == {trunk_of(pid): "DEGRADED"}
    assert subport_of(pid, 202) not in lab.plugin.status

    lab.plugin.unbindable.clear()
    lab.callbacks(agent).port_update(None, port={"id": pid})
    agent.run_once()
    assert lab.plugin.trunk_status == {trunk_of(pid): "ACTIVE"}
    assert lab.plugin.status[subport_of(pid, 202)] == "ACTIVE"


def test_no_subport_bound_is_an_error(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201])
    lab.plugin.unbindable.add(subport_of(pid, 201))
    lab.agent().run_once()
    assert lab.plugin.trunk_status == {trunk_of(pid): "ERROR"}
    assert lab.plugin.status[pid] == "ACTIVE"  # the parent itself works


def test_admin_down_parent_takes_its_subports_down(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201])
    agent = lab.agent()
    agent.run_once()
    lab.plugin.ports[pid]["admin_state_up"] = False
    lab.callbacks(agent).port_update(None, port={"id": pid})
    agent.run_once()
    assert lab.plugin.status == {pid: "DOWN", subport_of(pid, 201): "DOWN"}
    assert lab.plugin.trunk_status == {trunk_of(pid): "DOWN"}


def test_parent_vnic_removed_reports_its_subports_down(lab: Lab) -> None:
    pid = lab.plug(trunk_vlans=[201])
    agent = lab.agent()
    agent.run_once()
    lab.vnics.remove(pid)
    agent.run_once()
    assert lab.plugin.status == {pid: "DOWN", subport_of(pid, 201): "DOWN"}


def test_binding_activate_for_this_host_rewires_the_port(lab: Lab) -> None:
    pid = lab.plug()
    agent = lab.agent()
    agent.run_once()
    lab.plugin.status.clear()
    callbacks = lab.callbacks(agent)
    callbacks.binding_activate(None, port_id=pid, host="another-host")
    agent.run_once()
    assert lab.plugin.status == {}
    callbacks.binding_activate(None, port_id=pid, host=agent.settings.host)
    agent.run_once()
    assert lab.plugin.status == {pid: "ACTIVE"}
