"""Test fixtures shipped with the package: an emulated host served over
HTTPS on loopback, with a throw-away certificate authority.

Consumers' test suites reuse it (as ovsdbapp ships its ``venv`` fixtures)::

    from winstackers.cim import connect
    from winstackers.emulator.wsman.fixtures import served_host

    with served_host() as (server, url, password, ca_path):
        session = connect(url, password=password)
        ...

``url`` already names the user, Basic authentication and the CA to trust
(``https://winstackers@127.0.0.1:PORT/wsman?auth=basic&verify=CA``);
``server.host`` is the in-process :class:`EmulatedHost` behind it, for
fault injection and counters.  Certificates are made with the
``cryptography`` package (a dependency of pypsrp, and in the ``test`` extra).
"""

from __future__ import annotations

import datetime
import ipaddress
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman.server import WsmanServer, serve

DEFAULT_USER = "winstackers"


class TlsFiles(NamedTuple):
    """PEM files: the CA certificate to trust, the server's certificate and key."""

    ca: Path
    cert: Path
    key: Path


class ServedHost(NamedTuple):
    """A served emulated host and how to reach it."""

    server: WsmanServer
    url: str
    password: str
    ca_path: Path | None


def make_tls_files(directory: str | Path, hostname: str = "127.0.0.1",
                   days: int = 30) -> TlsFiles:
    """Write a new CA and a server certificate it signed for *hostname*
    (an IP address or a DNS name; ``localhost`` is always included) into
    *directory*.  Keys are EC P-256; the server key file is not encrypted."""
    folder = Path(directory)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("Winstackers test CA", key=ca_key, signer=ca_key, issuer=None,
                           days=days)
    cert = _certificate(hostname, key=key, signer=ca_key, issuer=ca_cert, days=days)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem")
    pem = serialization.Encoding.PEM
    files.ca.write_bytes(ca_cert.public_bytes(pem))
    files.cert.write_bytes(cert.public_bytes(pem))
    files.key.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    files.key.chmod(0o600)
    return files


def _certificate(name: str, *, key: ec.EllipticCurvePrivateKey,
                 signer: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
                 days: int) -> x509.Certificate:
    """A CA certificate (no *issuer*: self-signed) or a server one for *name*."""
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    is_ca = issuer is None
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   signer.public_key()), critical=False)
               .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
               .add_extension(_key_usage(is_ca), critical=True))
    if not is_ca:
        builder = (builder.add_extension(x509.SubjectAlternativeName(_alt_names(name)),
                                         critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                                  critical=False))
    return builder.sign(signer, hashes.SHA256())


def _key_usage(is_ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=is_ca, crl_sign=is_ca, encipher_only=False,
                         decipher_only=False)


def _alt_names(hostname: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(hostname)))
    except ValueError:
        names.append(x509.DNSName(hostname))
    return names


@contextmanager
def served_host(host: EmulatedHost | None = None, *, tls: bool = True,
                tls_files: TlsFiles | None = None, username: str = DEFAULT_USER,
                password: str | None = None) -> Iterator[ServedHost]:
    """Serve *host* (a new one by default) on 127.0.0.1, on a free port.

    With ``tls`` (the default) the listener is HTTPS with a certificate from
    a new CA (or *tls_files*); the URL trusts that CA.  Without it the
    listener is plain HTTP and the URL says ``insecure=1``.  The password is
    random unless given.  Everything is removed on exit.
    """
    password = password or secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="winstackers-wsman-") as folder:
        files = tls_files or (make_tls_files(folder) if tls else None)
        server = serve(host or EmulatedHost(), username=username, password=password,
                       tls_cert=str(files.cert) if files else None,
                       tls_key=str(files.key) if files else None)
        try:
            yield ServedHost(server, session_url(server, username, files), password,
                             files.ca if files else None)
        finally:
            server.stop()


def session_url(server: WsmanServer, username: str, files: TlsFiles | None) -> str:
    """The :func:`winstackers.cim.connect` URL of *server* for *username*."""
    scheme, _, rest = server.url.partition("://")
    options = f"auth=basic&verify={files.ca}" if files else "auth=basic&insecure=1"
    return f"{scheme}://{username}@{rest}?{options}"
