"""The emulated Hyper-V host served over WS-Management, as WinRM serves WMI.

``serve(host, listen, username=..., password=..., tls_cert=..., tls_key=...)``
starts an HTTP(S) listener at ``/wsman`` for one
:class:`~winstackers.emulator.hyperv.host.EmulatedHost`, so that several
processes (an agent, nova-compute, a test) share one host through the real
wire protocol and the remote transport
(:mod:`winstackers.cim.transports.wsman`).

- :mod:`.server`: the listener (HTTP(S), Basic auth, threads, clean stop);
- :mod:`.soap`: envelopes, addressing headers and faults;
- :mod:`.operations`: Get/Put/Create/Delete and method invocation;
- :mod:`.enumeration`: Enumerate, Pull and Release with WQL filters;
- :mod:`.admin`: counters and fault injection over HTTP, for tests;
- :mod:`.fixtures`: a served host with a throw-away CA, for test suites.

``winstackers emulator hyperv --listen 127.0.0.1:5986 --state host.json``
runs one from the command line.
"""

from winstackers.emulator.wsman.server import WsmanServer, serve

__all__ = ["WsmanServer", "serve"]
