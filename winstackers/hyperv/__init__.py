"""The Hyper-V host library: host operations in Hyper-V terms.

Callers say what they want (a VM, a vNIC, a switch port's configuration);
the library reads what is on the host, changes only the difference and
counts its host calls.  It knows ``Msvm_*`` classes and nothing of
OpenStack, and it is handed a :class:`winstackers.cim.Session`: it never
imports a transport.

Modules: :mod:`.vms` (virtual machines), :mod:`.vnics` (network adapters),
:mod:`.ports` (switch ports as desired state), :mod:`.disks` (virtual hard
disks, their attachment, ISOs, COM port pipes), :mod:`.errors`.
"""
