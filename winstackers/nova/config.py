"""The compute driver's options, registered in one place.

``[hyperv_host]`` has the same names as the Hyper-V agent's (an operator
points both at a host the same way); ``[hyperv_compute]`` what only the
compute driver needs.  Nova 34 has no ``[hyperv]`` group any more, and the
options of the retired driver are not revived under their old names.

``oslo-config-generator --namespace winstackers.nova`` lists them.
"""

from __future__ import annotations

from oslo_config import cfg

HOST, COMPUTE = "hyperv_host", "hyperv_compute"
GENERATIONS = {"hyperv-gen1": 1, "hyperv-gen2": 2}

HOST_OPTS = [
    cfg.StrOpt("url", default="local://",
               help="The Hyper-V host: 'local://' (WMI on this Windows host through PyMI), "
                    "'https://USER@HOST:5986/wsman?auth=ntlm' (WS-Management from Linux; "
                    "options auth, verify, insecure, max_concurrency), or "
                    "'emulator://...' (an emulated host, for tests and demos)."),
    cfg.StrOpt("password", secret=True,
               help="The password of the user in [hyperv_host] url (WS-Management only)."),
]

COMPUTE_OPTS = [
    cfg.StrOpt("default_generation", default="hyperv-gen2", choices=sorted(GENERATIONS),
               help="The Hyper-V generation of an instance whose image has no "
                    "hw_machine_type property ('hyperv-gen1' or 'hyperv-gen2')."),
    cfg.StrOpt("instances_path", default="C:\\OpenStack\\Instances",
               help="The folder on the Hyper-V host where instances' files are kept: "
                    "one folder per instance (root.vhdx, ephemeral.vhdx, "
                    "configdrive.iso) and the image cache in _base."),
    cfg.StrOpt("instances_share",
               help="The SMB share that exports instances_path, as \\\\HOST\\SHARE "
                    "(e.g. \\\\hv01\\Instances). Required when [hyperv_host] url is "
                    "https:// or http://: nova-compute copies images and config drives to "
                    "the host through it, as the [hyperv_host] url's user with "
                    "[hyperv_host] password (the WinRM account). Not used with local://."),
    cfg.PortOpt("instances_share_port", default=445,
                help="The TCP port of instances_share's SMB server."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the options in *conf* (idempotent)."""
    conf.register_opts(HOST_OPTS, group=HOST)
    conf.register_opts(COMPUTE_OPTS, group=COMPUTE)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The ``oslo.config.opts`` entry point."""
    return [(HOST, list(HOST_OPTS)), (COMPUTE, list(COMPUTE_OPTS))]
