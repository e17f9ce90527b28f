"""The WS-Management transport against the served emulator: security,
failures and paging, as issue 4 asks (auth, certificates, plain HTTP, a
server that goes away mid-enumeration, faults carrying Hyper-V codes)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from winstackers.cim import (
    AccessDenied,
    InvalidParameter,
    InvalidQuery,
    NotFound,
    Reference,
    Session,
    TransportError,
    connect,
    wmi_codes,
)
from winstackers.cim import wsman_xml as wx
from winstackers.cim.errors import CertificateNotTrusted
from winstackers.cim.mof import MofCatalog
from winstackers.cim.transports.emulated import EmulatedSession
from winstackers.cim.transports.wsman import WsmanSession
from winstackers.emulator.hyperv.faults import FaultPlan
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman.fixtures import ServedHost, TlsFiles, make_tls_files, served_host
from winstackers.emulator.wsman.server import WsmanServer, serve

from ..contract.helpers import Host, unique

USER = "winstackers"


def with_query(url: str, **options: str) -> str:
    """*url* with its query string replaced."""
    return url.partition("?")[0] + "?" + "&".join(f"{k}={v}" for k, v in options.items())


def direct_session(server: WsmanServer, password: str, tls: TlsFiles,
                   max_elements: int) -> WsmanSession:
    """A session with a small page size (connect() has no option for it)."""
    return WsmanSession("127.0.0.1", port=server.port, username=USER, password=password,
                        auth="basic", verify=str(tls.ca), catalog=MofCatalog(),
                        max_elements=max_elements)


def count_actions(session: WsmanSession, before: Callable[[str], None] | None = None
                  ) -> list[str]:
    """Record the actions *session* sends (calling *before* first)."""
    sent: list[str] = []
    original = session._send

    def send(action: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(action)
        if before:
            before(action)
        return original(action, *args, **kwargs)

    session._send = send  # type: ignore[method-assign]
    return sent


def define_vms(host: EmulatedHost, count: int) -> None:
    """*count* VMs, defined in-process (fast)."""
    helper = Host(EmulatedSession(host))
    for _ in range(count):
        helper.define_vm()


# -- authentication and certificates -----------------------------------------------
def test_basic_auth_over_https_with_a_trusted_ca(session: Session, served: ServedHost) -> None:
    assert served.url.startswith(f"https://{USER}@127.0.0.1:")
    assert "verify=" in served.url
    [system] = session.query("SELECT * FROM Msvm_ComputerSystem")
    assert system["ElementName"] == served.server.host.name


def test_a_wrong_password_is_access_denied_naming_user_and_host(
        wsman_server: WsmanServer, served: ServedHost) -> None:
    wrong = f"not-{served.password}"
    session = connect(served.url, password=wrong)
    with pytest.raises(AccessDenied) as err:
        session.query("SELECT * FROM Msvm_ComputerSystem")
    message = str(err.value)
    assert USER in message and "127.0.0.1" in message
    assert wrong not in message and served.password not in message
    assert not err.value.retryable


def test_an_untrusted_certificate_is_refused_with_a_clear_message(
        wsman_server: WsmanServer, served: ServedHost) -> None:
    session = connect(with_query(served.url, auth="basic", verify="true"),
                      password=served.password)
    with pytest.raises(CertificateNotTrusted) as err:
        session.query("SELECT * FROM Msvm_ComputerSystem")
    assert "the TLS certificate of 127.0.0.1 is not trusted" in str(err.value)
    assert "certificate verify failed" in str(err.value) and "verify=" in str(err.value)
    assert not err.value.retryable


def test_an_address_the_certificate_lacks_is_named_whole(tmp_path: Path) -> None:
    # A certificate for hv01.example.com (and localhost), reached as 127.0.0.1.
    files = make_tls_files(tmp_path, hostname="hv01.example.com")
    with served_host(tls_files=files) as other:
        session = connect(other.url, password=other.password)
        with pytest.raises(CertificateNotTrusted) as err:
            session.query("SELECT * FROM Msvm_ComputerSystem")
    assert "certificate is not valid for '127.0.0.1'; trust its CA" in str(err.value)


def test_certificate_authentication_is_refused_up_front(served: ServedHost) -> None:
    with pytest.raises(InvalidParameter, match="auth=certificate is not supported; use one of "
                       "basic, credssp, kerberos, negotiate, ntlm"):
        connect(with_query(served.url, auth="certificate"), password=served.password)


def test_verification_explicitly_off_connects(wsman_server: WsmanServer,
                                              served: ServedHost) -> None:
    session = connect(with_query(served.url, auth="basic", verify="false"),
                      password=served.password)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(session.query("SELECT * FROM Msvm_ComputerSystem")) == 1


@pytest.fixture(scope="module")
def plain_http() -> Iterator[ServedHost]:
    """A plain-HTTP listener (as WinRM with AllowUnencrypted)."""
    with served_host(tls=False) as served:
        yield served


def test_plain_http_with_basic_needs_the_insecure_flag(plain_http: ServedHost) -> None:
    assert plain_http.url.startswith("http://") and plain_http.url.endswith("insecure=1")
    with pytest.raises(InvalidParameter, match="in the clear"):
        connect(with_query(plain_http.url, auth="basic"), password=plain_http.password)
    session = connect(plain_http.url, password=plain_http.password)
    assert len(session.query("SELECT * FROM Msvm_ComputerSystem")) == 1


# -- failures ---------------------------------------------------------------------------
def test_a_request_larger_than_the_listener_takes_is_refused_not_retried(
        session: Session, served: ServedHost) -> None:
    # 600 KB of notes: more than WinRM's default MaxEnvelopeSizekb (500).
    vm = Host(session).define_vm()
    settings = session.associators(vm, assoc_class="Msvm_SettingsDefineState")[0]
    huge = settings.replace(Notes=["x" * 1000] * 600)
    with pytest.raises(InvalidParameter, match="larger than the listener accepts") as err:
        session.invoke(session.query("SELECT * FROM Msvm_VirtualSystemManagementService")[0]
                       .path, "ModifySystemSettings", {"SystemSettings": huge})
    assert not err.value.retryable
    assert len(session.query("SELECT * FROM Msvm_ComputerSystem")) == 2  # still usable


def test_a_server_that_goes_away_mid_enumeration(tls_files: TlsFiles) -> None:
    host, password = EmulatedHost(), "s3cret-mid-enum"
    define_vms(host, 6)
    server = serve(host, username=USER, password=password, tls_cert=str(tls_files.cert),
                   tls_key=str(tls_files.key))
    port, session = server.port, direct_session(server, password, tls_files, max_elements=2)
    sent = count_actions(session, lambda action: server.stop() if action == wx.PULL else None)
    with pytest.raises(TransportError) as err:
        session.query("SELECT * FROM Msvm_ComputerSystem")
    assert err.value.retryable and sent == [wx.ENUMERATE, wx.PULL]
    with serve(host, ("127.0.0.1", port), username=USER, password=password,
               tls_cert=str(tls_files.cert), tls_key=str(tls_files.key)):
        count_actions(session)  # stop no more
        assert len(session.query("SELECT * FROM Msvm_ComputerSystem")) == 7


def test_an_expired_enumeration_is_a_retryable_transport_error(
        wsman_server: WsmanServer, served: ServedHost, tls_files: TlsFiles,
        monkeypatch: pytest.MonkeyPatch) -> None:
    define_vms(wsman_server.host, 3)
    session = direct_session(wsman_server, served.password, tls_files, max_elements=1)
    monkeypatch.setattr(wsman_server.service.enumerations, "timeout", 0.0)
    with pytest.raises(TransportError, match="enumeration context") as err:
        session.query("SELECT * FROM Msvm_ComputerSystem")
    assert err.value.code == wmi_codes.WSMAN_INVALID_ENUMERATION_CONTEXT


def test_a_soap_fault_carries_the_hyperv_error_code(session: Session) -> None:
    with pytest.raises(InvalidQuery, match="Msvm_NoSuchClass") as err:
        session.query("SELECT * FROM Msvm_NoSuchClass")
    assert err.value.code == wmi_codes.WBEM_E_INVALID_QUERY == 0x80041017
    missing = Reference.build(session.namespace, "Msvm_ComputerSystem",
                              {"CreationClassName": "Msvm_ComputerSystem", "Name": "NO-SUCH"})
    with pytest.raises(NotFound, match="NO-SUCH") as not_found:
        session.get(missing)
    assert not_found.value.code == wmi_codes.WBEM_E_NOT_FOUND


def test_injected_transport_errors_reach_the_client_as_transport_errors(
        session: Session, emulated_host: EmulatedHost) -> None:
    emulated_host.faults = FaultPlan(transport_error_rate=1.0)
    with pytest.raises(TransportError, match=emulated_host.name) as err:
        session.query("SELECT * FROM Msvm_ComputerSystem")
    assert err.value.retryable


# -- paging ----------------------------------------------------------------------------
def test_paging_returns_every_instance_in_order(
        wsman_server: WsmanServer, served: ServedHost, tls_files: TlsFiles) -> None:
    define_vms(wsman_server.host, 12)
    session = direct_session(wsman_server, served.password, tls_files, max_elements=5)
    sent = count_actions(session)
    wql = "SELECT * FROM Msvm_ComputerSystem"
    expected = [vm.path for vm in wsman_server.host.query(wql)]
    assert [vm.path for vm in session.query(wql)] == expected
    assert len(expected) == 13 and sent == [wx.ENUMERATE, wx.PULL, wx.PULL]


def test_a_select_list_over_many_pages(wsman_server: WsmanServer, served: ServedHost,
                                       tls_files: TlsFiles) -> None:
    names = [unique() for _ in range(4)]
    helper = Host(EmulatedSession(wsman_server.host))
    for name in names:
        helper.define_vm(name)
    session = direct_session(wsman_server, served.password, tls_files, max_elements=1)
    found = session.query("SELECT ElementName FROM Msvm_ComputerSystem WHERE "
                          "ElementName LIKE 'winstackers-test-%'")
    assert sorted(vm["ElementName"] for vm in found) == sorted(names)
    assert all(dict(vm.properties) == {"ElementName": vm["ElementName"]} for vm in found)
    assert all(vm.path is not None for vm in found)


def test_concurrent_operations_through_one_session(session: Session,
                                                   emulated_host: EmulatedHost) -> None:
    define_vms(emulated_host, 3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda _: len(session.query("SELECT * FROM Msvm_ComputerSystem")),
                               range(32)))
    assert counts == [4] * 32
    assert emulated_host.counters.by_operation()["query"] >= 32


def test_a_select_list_keeps_empty_and_null_arrays(session: Session,
                                                   emulated_host: EmulatedHost) -> None:
    wql = ("SELECT InstanceID, HostResource, Connection FROM "
           "Msvm_EthernetPortAllocationSettingData")
    expected = [dict(inst.properties) for inst in emulated_host.query(wql)]
    assert [dict(inst.properties) for inst in session.query(wql)] == expected
    assert expected[0]["HostResource"] == [] and expected[0]["Connection"] is None
