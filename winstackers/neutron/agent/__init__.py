"""The Hyper-V L2 agent (neutron-hyperv-agent) and its parts."""
