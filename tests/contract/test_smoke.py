"""The simplest life of a VM with a connected adapter."""

import pytest

from .helpers import ACL, VLAN, Host


@pytest.mark.hyperv_verified
def test_vm_with_a_connected_adapter_and_features(host: Host) -> None:
    vm, nic, connection = host.port()
    host.add_features(connection, host.feature(VLAN, OperationMode=1, AccessVlanId=100),
                      host.acl(1, 2, 1))
    assert [f["AccessVlanId"] for f in host.features(connection, VLAN)] == [100]
    assert len(host.features(connection, ACL)) == 1
    host.set_state(vm, 2)
    assert host.session.get(vm)["EnabledState"] == 2
