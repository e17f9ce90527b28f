"""Neutron on Hyper-V: the parts that run inside neutron-server, and the agent.

Server side (loaded by neutron-server 29 through entry points):

- :mod:`.ml2.mech_hyperv`: the ML2 mechanism driver ``hyperv``, which binds
  ports on hosts running a live "HyperV agent";
- :mod:`.services.qos.hyperv`: the QoS rules Hyper-V ports accept;
- :mod:`.services.trunk.hyperv`: trunks (VLAN subports) on Hyper-V ports.

:mod:`.configurations` is the contract between the two sides: what the agent
reports in its heartbeat's ``configurations`` and how the server reads it.
:mod:`.constants` holds the names operators know (agent type, vif type).

Nothing here builds WQL or names an ``Msvm_*`` class: host work belongs to
:mod:`winstackers.hyperv`.
"""
