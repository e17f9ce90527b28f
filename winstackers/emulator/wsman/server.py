"""An emulated host served over HTTP(S) as a WinRM listener serves WMI.

``POST /wsman`` takes WS-Management envelopes (:mod:`.operations`); the
admin endpoint under ``/winstackers/`` (:mod:`.admin`) exposes the host's
counters and fault plan.  As a WinRM listener (MS-WSMV 2.2.4.35, 3.1.4.1.28):

- Basic authentication only (WinRM's Basic, ``realm="WSMAN"``); missing or
  wrong credentials get 401 with ``WWW-Authenticate: Basic realm="WSMAN"``
  and an empty body.  Passwords are compared in constant time and never
  logged.  Negotiate, Kerberos, CredSSP, certificates and WinRM message
  encryption (MS-WSMV 2.2.9.1) are not emulated.
- With a certificate the listener is HTTPS (TLS 1.2 or later); without one
  it is plain HTTP and still accepts Basic, as a listener with
  ``AllowUnencrypted`` does (MS-WSMV 2.2.4.36): for loopback tests only.
- Requests larger than MaxEnvelopeSizekb (500 KiB) get 413 (MS-WSMV
  3.1.4.1.20); SOAP faults are HTTP 500.
- Connections are kept alive (HTTP/1.1) and handled in threads;
  :meth:`WsmanServer.stop` closes them all, as a stopped service would.
"""

from __future__ import annotations

import base64
import hmac
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast

from winstackers.cim.errors import InvalidParameter
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman import admin
from winstackers.emulator.wsman.enumeration import ENUMERATION_TIMEOUT
from winstackers.emulator.wsman.operations import WsmanService
from winstackers.emulator.wsman.soap import MAX_ENVELOPE_BYTES

LOG = logging.getLogger(__name__)
WSMAN_PATH = "/wsman"
SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
#: Larger bodies are not even read before the 413 answer.
DISCARD_LIMIT = 8 * 1024 * 1024


def check_basic(header: str | None, username: str, password: str) -> bool:
    """Whether an ``Authorization`` header carries these Basic credentials
    (user names compare case-insensitively, as Windows accounts do)."""
    if not header or not header[:6].lower() == "basic ":
        return False
    try:
        user, sep, given = base64.b64decode(header[6:].strip(), validate=True) \
            .decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    same_user = hmac.compare_digest(user.casefold().encode(), username.casefold().encode())
    same_password = hmac.compare_digest(given.encode(), password.encode())
    return bool(sep) and same_user and same_password


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    disable_nagle_algorithm = True
    #: Idle keep-alive connections are closed after this many seconds.
    timeout = 60

    @property
    def listener(self) -> WsmanServer:
        return cast(_HTTPServer, self.server).listener

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()  # here, not in the accepting thread
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 - the http.server naming
        if self._authorized():
            self._answer(*admin.handle("GET", self.path, b"", self.listener.host),
                         content_type="application/json")

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()  # read first: a client still sending misses an early answer
        if body is None or not self._authorized():
            return
        path = self.path.partition("?")[0]
        if path.rstrip("/").lower() == WSMAN_PATH:
            status, answer = self.listener.service.handle(body) if body else (200, b"")
            self._answer(status, answer, content_type=SOAP_CONTENT_TYPE)
        else:
            self._answer(*admin.handle("POST", path, body, self.listener.host),
                         content_type="application/json")

    def _authorized(self) -> bool:
        if check_basic(self.headers.get("Authorization"), self.listener.username,
                       self.listener.password):
            return True
        self._answer(401, b"", headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})
        return False

    def _body(self) -> bytes | None:
        """The request body, or None when it was refused (411, 413)."""
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._answer(411, b"", close=True)
            return None
        size = int(length)
        if size <= MAX_ENVELOPE_BYTES:
            return self.rfile.read(size)
        if size <= DISCARD_LIMIT:
            self._discard(size)
        self._answer(413, b"", close=True)
        return None

    def _discard(self, size: int) -> None:
        while size > 0:
            chunk = self.rfile.read(min(65536, size))
            if not chunk:
                return
            size -= len(chunk)

    def _answer(self, status: int, body: bytes, *, content_type: str | None = None,
                headers: dict[str, str] | None = None, close: bool = False) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type and body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        LOG.debug("%s - %s", self.address_string(), format % args)


class _HTTPServer(ThreadingHTTPServer):
    """The HTTP(S) server; it remembers its connections to close them."""

    daemon_threads = True

    def __init__(self, listen: tuple[str, int], listener: WsmanServer,
                 tls: ssl.SSLContext | None) -> None:
        self.listener = listener
        self.tls = tls
        self.connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in listen[0]:
            self.address_family = socket.AF_INET6
        super().__init__(listen, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOG.debug("connection from %s ended with an error", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Cut every open connection (handler threads then end)."""
        with self._connections_lock:
            connections = list(self.connections)
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def tls_context(cert: str, key: str | None = None) -> ssl.SSLContext:
    """A server-side TLS context (TLS 1.2 or later).

    :raises InvalidParameter: naming the certificate when it cannot be loaded.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidParameter(where=f"TLS certificate {cert} / key {key}",
                               detail=f"{type(exc).__name__}: {exc}") from None
    return context


class WsmanServer:
    """One emulated host served at ``/wsman``; see :func:`serve`.

    :ivar host: the served host; tests may replace it between requests.
    """

    def __init__(self, host: EmulatedHost, listen: tuple[str, int] = ("127.0.0.1", 0), *,
                 username: str, password: str, tls_cert: str | None = None,
                 tls_key: str | None = None,
                 enumeration_timeout: float = ENUMERATION_TIMEOUT) -> None:
        if not username or not password:
            raise InvalidParameter(where="the emulator's listener",
                                   detail="a user name and a password are required")
        self.host = host
        self.username = username
        self.password = password
        self.service = WsmanService(lambda: self.host, enumeration_timeout=enumeration_timeout)
        tls = tls_context(tls_cert, tls_key) if tls_cert else None
        self._httpd = _HTTPServer(listen, self, tls)
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        """The TCP port listened on."""
        return int(self._httpd.server_address[1])

    @property
    def scheme(self) -> str:
        """``https`` or ``http``."""
        return "https" if self._httpd.tls is not None else "http"

    @property
    def url(self) -> str:
        """The endpoint, e.g. ``https://127.0.0.1:40123/wsman`` (no credentials)."""
        address = str(self._httpd.server_address[0])
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{WSMAN_PATH}"

    def start(self) -> WsmanServer:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"wsman-emulator-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every connection (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(5)
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> WsmanServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<WsmanServer {self.url} user={self.username!r}>"


def serve(host: EmulatedHost, listen: tuple[str, int] = ("127.0.0.1", 0), *,
          username: str, password: str, tls_cert: str | None = None,
          tls_key: str | None = None,
          enumeration_timeout: float = ENUMERATION_TIMEOUT) -> WsmanServer:
    """Serve *host* at ``/wsman`` on *listen* (port 0 picks a free one),
    in a daemon thread.  Use the result as a context manager or call
    ``stop()``.

    :raises InvalidParameter: without credentials, or a certificate that
        cannot be loaded.
    :raises OSError: when the address cannot be bound.
    """
    return WsmanServer(host, listen, username=username, password=password, tls_cert=tls_cert,
                       tls_key=tls_key, enumeration_timeout=enumeration_timeout).start()

