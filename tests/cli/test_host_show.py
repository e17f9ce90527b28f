"""``winstackers host show``, run in-process against emulated hosts prepared
with the host library: tables, JSON, one port, its ACLs, the ways to name
the host, the password kept out of the output, and the host calls made."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.helpers import Host
from winstackers.cim import Session, connect
from winstackers.cim.connect import forget_shared_hosts
from winstackers.cim.errors import InvalidParameter
from winstackers.cli import host_show
from winstackers.cli.main import main
from winstackers.emulator.hyperv.host import EmulatedHost
from winstackers.emulator.wsman.fixtures import served_host
from winstackers.hyperv.ports import SwitchPorts
from winstackers.hyperv.portstate import AclRule, Bandwidth, PortState, Profile, Sriov, Vlan
from winstackers.hyperv.vms import VMs
from winstackers.hyperv.vmstate import WINDOWS_TEMPLATE, DynamicMemory, VMSpec
from winstackers.hyperv.vnics import VNics

PASSWORD = "hs-Pa55word-never-shown"
PROFILE_ID = "{1f7e4a40-0d47-4bd6-9e3b-7b2d58e5c3a1}"
RULES = frozenset({
    AclRule("in", "deny", 1),
    AclRule("in", "allow", 200, "tcp", local_ports="22", remote_address="10.0.0.0/24",
            stateful=True, name="ssh"),
    AclRule("in", "allow", 50, "1", remote_address="10.0.0.0/24"),
    AclRule("out", "deny", 1),
    AclRule("out", "allow", 100, local_address="10.0.0.5/32", name="egress"),
})
PORT_A = PortState("vSwitch-private", Vlan.access(100), acls=RULES,
                   bandwidth=Bandwidth(limit_bps=10**9, reservation_bps=100 * 10**6))
PORT_B = PortState("vSwitch-sriov", Vlan.trunk([10, 11, 12, 20], native_id=10),
                   allow_mac_spoofing=True, sriov=Sriov(offload_weight=50, queue_pairs=2),
                   profile=Profile(PROFILE_ID, 2, profile_name="hnv-profile"))


@pytest.fixture(autouse=True)
def _fresh_hosts() -> Iterator[None]:
    forget_shared_hosts()
    yield
    forget_shared_hosts()


@pytest.fixture(autouse=True)
def _no_password_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(host_show.PASSWORD_VARIABLE, raising=False)


def prepare(session: Session) -> None:
    """An absolute-bandwidth private switch, two VMs, three vNICs: port-a
    (VLAN, ACLs, bandwidth) on web-1, port-b (trunk, SR-IOV on the IOV
    switch, MAC spoofing, profile) and port-c (not connected) on db-1."""
    Host(session).define_switch("vSwitch-private", bandwidth_mode=2)
    vms, vnics, ports = VMs(session), VNics(session), SwitchPorts(session)
    vms.ensure(VMSpec("web-1", generation=2, vcpus=2, memory_mb=2048,
                      secure_boot=WINDOWS_TEMPLATE, instance_id="inst-web-1"))
    vms.ensure(VMSpec("db-1", generation=1, memory_mb=1024,
                      dynamic_memory=DynamicMemory(512, 2048)))
    vnics.add("web-1", "port-a", mac="00:15:5D:00:AA:01")
    vnics.add("db-1", "port-b", mac="00-15-5D-00-AA-02")
    vnics.add("db-1", "port-c")
    ports.apply("port-a", PORT_A)
    ports.apply("port-b", PORT_B)
    vms.start("web-1")


@pytest.fixture
def url() -> str:
    """The URL of a shared in-process emulated host, prepared."""
    name = f"emulator://host-show-{uuid.uuid4().hex[:8]}"
    prepare(connect(name))
    return name


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["host", "show", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def row(out: str, first_cell: str) -> str:
    """The table line whose first cell is *first_cell*."""
    found = [line for line in out.splitlines()
             if line.strip("│┃| ").startswith(first_cell + " ")]
    assert len(found) == 1, f"{len(found)} rows start with {first_cell!r}:\n{out}"
    return found[0]


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


# -- tables -----------------------------------------------------------------------------------
def test_tables_show_switches_vms_and_ports(url: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--url", url)
    assert (status, err) == (0, "")
    assert out.startswith(f"Host WIN-HV-EMU01 ({url}): Microsoft Windows Server 2022")
    assert cells(row(out, "vSwitch-private")) == ["vSwitch-private", "private", "-", "off", "1"]
    assert cells(row(out, "vSwitch-sriov")) == ["vSwitch-sriov", "external", "Ethernet 2",
                                                "enabled", "1"]
    assert cells(row(out, "vSwitch-physnet1"))[:4] == ["vSwitch-physnet1", "external",
                                                       "Ethernet 1", "off"]
    assert cells(row(out, "web-1")) == ["web-1", "running", "2", WINDOWS_TEMPLATE, "2048 MB",
                                        "2", "1"]
    assert cells(row(out, "db-1")) == ["db-1", "off", "1", "off",
                                       "1024 MB (dynamic 512-2048)", "1", "2"]
    assert cells(row(out, "port-a")) == [
        "port-a", "web-1", "00155D00AA01", "vSwitch-private", "access 100", "5", "no", "-",
        "1 Gbit/s", "100 Mbit/s", "-"]
    assert cells(row(out, "port-b")) == [
        "port-b", "db-1", "00155D00AA02", "vSwitch-sriov", "trunk 10-12,20 native 10", "0",
        "yes", "weight 50, 2 QP", "-", "-", "hnv-profile"]
    assert cells(row(out, "port-c"))[3:6] == ["(not connected)", "untagged", "0"]


def test_a_piped_table_is_never_wrapped(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--url", url)
    assert max(len(line) for line in out.splitlines()) > 80
    assert "(not connected)" in row(out, "port-c")


def test_one_port_as_a_table(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--url", url, "--port", "port-b")
    assert status == 0
    assert "Port port-b" in out
    assert cells(row(out, "port-b"))[:5] == ["port-b", "db-1", "00155D00AA02", "vSwitch-sriov",
                                             "trunk 10-12,20 native 10"]
    assert "port-a" not in out


# -- JSON -------------------------------------------------------------------------------------
def test_json_overview_has_exact_values(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--url", url, "--json")
    assert status == 0
    doc = json.loads(out)
    assert set(doc) == {"host", "vswitches", "vms", "ports"}
    assert doc["host"] == {
        "name": "WIN-HV-EMU01", "url": url,
        "os_caption": "Microsoft Windows Server 2022 Datacenter", "os_version": "10.0.20348",
        "os_build": "20348", "logical_processors": 16, "memory_total_mb": 65536,
        "memory_free_mb": doc["host"]["memory_free_mb"], "iov_supported": True}
    switches = {s["name"]: s for s in doc["vswitches"]}
    assert set(switches) == {"vSwitch-physnet1", "vSwitch-sriov", "vSwitch-private"}
    assert {k: v for k, v in switches["vSwitch-sriov"].items() if k != "id"} == {
        "name": "vSwitch-sriov", "type": "external", "uplink": "Ethernet 2",
        "iov_enabled": True, "iov_capable": True}
    assert switches["vSwitch-private"]["type"] == "private"
    assert switches["vSwitch-private"]["uplink"] is None

    session = connect(url)
    web, db = VMs(session).get("web-1"), VMs(session).get("db-1")
    assert doc["vms"] == [
        {"name": "db-1", "id": db.vm_id, "state": "off", "generation": 1, "secure_boot": None,
         "memory_mb": 1024,
         "dynamic_memory": {"minimum_mb": 512, "maximum_mb": 2048, "buffer_percent": 20},
         "vcpus": 1, "instance_id": None},
        {"name": "web-1", "id": web.vm_id, "state": "running", "generation": 2,
         "secure_boot": WINDOWS_TEMPLATE, "memory_mb": 2048, "dynamic_memory": None,
         "vcpus": 2, "instance_id": "inst-web-1"}]
    ports = {p["name"]: p for p in doc["ports"]}
    assert list(ports) == ["port-a", "port-b", "port-c"]
    assert ports["port-a"] == {
        "name": "port-a", "mac": "00155D00AA01", "vm": "web-1", "vm_id": web.vm_id,
        "vswitch": "vSwitch-private",
        "vlan": {"mode": "access", "access_id": 100, "native_id": 0, "allowed": []},
        "acl_count": 5, "allow_mac_spoofing": False, "dhcp_guard": False,
        "router_guard": False, "sriov": None,
        "bandwidth": {"limit_bps": 10**9, "burst_limit_bps": 0, "burst_size_bytes": 0,
                      "reservation_bps": 100 * 10**6},
        "profile": None}
    assert ports["port-b"] == {
        "name": "port-b", "mac": "00155D00AA02", "vm": "db-1", "vm_id": db.vm_id,
        "vswitch": "vSwitch-sriov",
        "vlan": {"mode": "trunk", "access_id": 0, "native_id": 10, "allowed": [10, 11, 12, 20]},
        "acl_count": 0, "allow_mac_spoofing": True, "dhcp_guard": False, "router_guard": False,
        "sriov": {"offload_weight": 50, "queue_pairs": 2}, "bandwidth": None,
        "profile": {"profile_id": PROFILE_ID, "profile_data": 2, "profile_name": "hnv-profile",
                    "vendor_id": "{00000000-0000-0000-0000-000000000000}", "vendor_name": ""}}
    assert ports["port-c"]["vswitch"] is None
    assert ports["port-c"]["vlan"]["mode"] == "untagged"


def test_json_of_one_port_is_the_overview_entry(url: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "--url", url, "--json")
    overview = {p["name"]: p for p in json.loads(out)["ports"]}
    status, out, _ = run(capsys, "--url", url, "--json", "--port", "port-a")
    assert status == 0
    assert json.loads(out) == {"port": overview["port-a"]}


# -- ACLs -------------------------------------------------------------------------------------
EXPECTED_ORDER = [("in", 200), ("in", 50), ("in", 1), ("out", 100), ("out", 1)]


def test_acls_as_json_by_direction_then_weight(url: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--url", url, "--port", "port-a", "--acls", "--json")
    assert status == 0
    doc = json.loads(out)
    assert doc["port"] == "port-a"
    assert [(r["direction"], r["weight"]) for r in doc["acls"]] == EXPECTED_ORDER
    assert doc["acls"][0] == {
        "direction": "in", "weight": 200, "action": "allow", "protocol": "TCP",
        "local_address": "ANY", "local_ports": "22", "remote_address": "10.0.0.0/24",
        "remote_ports": "ANY", "stateful": True, "idle_timeout": 255, "name": "ssh"}
    assert doc["acls"][1]["protocol"] == "1"


def test_acls_as_a_table_in_the_same_order(url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--url", url, "--port", "port-a", "--acls")
    assert status == 0
    assert "ACLs of port port-a" in out
    rows = [cells(line) for line in out.splitlines()
            if line.startswith("│") and cells(line)[0] in ("in", "out")]
    assert [(r[0], int(r[1])) for r in rows] == EXPECTED_ORDER
    assert rows[0] == ["in", "200", "allow", "TCP", "ANY", "22", "10.0.0.0/24", "ANY", "yes",
                       "ssh"]
    assert rows[2] == ["in", "1", "deny", "ANY", "ANY", "ANY", "ANY", "ANY", "no", "-"]


def test_a_port_without_acls_has_an_empty_list(url: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--url", url, "--port", "port-c", "--acls", "--json")
    assert (status, json.loads(out)) == (0, {"port": "port-c", "acls": []})


@pytest.mark.parametrize("extra", [[], ["--acls"], ["--acls", "--json"]])
def test_an_unknown_port_is_named(url: str, extra: list[str],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--url", url, "--port", "no-such-port", *extra)
    assert status == 1
    assert out == ""
    assert err == "winstackers: switch port no-such-port not found on WIN-HV-EMU01\n"


def test_acls_need_a_port(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "--url", url, "--acls")
    assert (status, out) == (2, "")
    assert "--acls needs --port ID" in err


def test_a_host_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["host", "show"])
    assert exit_.value.code == 2
    assert "--url" in capsys.readouterr().err


# -- naming the host --------------------------------------------------------------------------
def test_a_state_file_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "host.json"
    prepare(connect(f"emulator://{state}"))
    forget_shared_hosts()  # the command must load the file, not reuse this process's host
    status, out, _ = run(capsys, "--url", f"emulator://{state}", "--json")
    assert status == 0
    doc = json.loads(out)
    assert [p["name"] for p in doc["ports"]] == ["port-a", "port-b", "port-c"]
    assert doc["ports"][0]["acl_count"] == 5


def test_a_config_file_names_the_host_and_later_files_win(
        url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    neutron_conf = tmp_path / "neutron.conf"
    neutron_conf.write_text("[DEFAULT]\nhost = hv01\npassword = not-this-one\n"
                            "[hyperv_host]\nurl = emulator://elsewhere\n")
    agent_ini = tmp_path / "hyperv_agent.ini"
    agent_ini.write_text("[AGENT]\nphysical_network_vswitch_mappings = physnet1:vSwitch-sriov\n"
                         f"[hyperv_host]\nurl = {url}\npassword = {PASSWORD}\n")
    status, out, err = run(capsys, "--config-file", str(neutron_conf),
                           "--config-file", str(agent_ini))
    assert status == 0
    assert cells(row(out, "port-a"))[1] == "web-1"
    assert PASSWORD not in out + err


def test_a_config_file_without_a_url_is_named(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    ini = tmp_path / "agent.ini"
    ini.write_text(f"[hyperv_host]\npassword = {PASSWORD}\n")
    status, out, err = run(capsys, "--config-file", str(ini))
    assert status == 1
    assert f"[hyperv_host] url: not set in {ini}" in err
    assert PASSWORD not in out + err


def test_a_missing_or_broken_config_file_is_named_without_its_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.ini"
    status, _, err = run(capsys, "--config-file", str(missing))
    assert status == 1
    assert f"--config-file {missing}" in err and "No such file" in err
    broken = tmp_path / "broken.ini"
    broken.write_text(f"password = {PASSWORD}\n")  # no section
    status, out, err = run(capsys, "--config-file", str(broken))
    assert status == 1
    assert f"--config-file {broken}" in err and "line 1" in err
    assert PASSWORD not in out + err


INI_CASES = [
    # (files, url, password): oslo.config's reading of the same files
    (["[hyperv_host]\nurl = emulator://a\npassword = 'quoted secret'\n"],
     "emulator://a", "quoted secret"),
    (["[HYPERV_HOST]\nurl = emulator://a\n", "[hyperv_host]\nurl = emulator://b\n"],
     "emulator://b", None),
    (["[hyperv_host]\nurl = emulator://a\nurl = emulator://c\npassword = a$$b\\$c # x\n"],
     "emulator://c", "a$b$c # x"),
    (["[DEFAULT]\npassword = p\n[hyperv_host]\nurl = emulator://a\n"], "emulator://a", None),
    (["[hyperv_host]\nURL = emulator://ignored\npassword = p\n"], None, "p"),
]


@pytest.mark.parametrize(("texts", "url", "password"), INI_CASES)
def test_ini_files_are_read_as_the_agent_reads_them(
        tmp_path: Path, texts: list[str], url: str | None, password: str | None) -> None:
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"{i}.ini"
        path.write_text(text)
        paths.append(str(path))
    assert host_show.read_host_options(paths) == (url, password)
    agent_config = pytest.importorskip("winstackers.neutron.agent.config")
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf.register_opts(agent_config.HOST_OPTS, agent_config.HOST)
    conf(args=[arg for path in paths for arg in ("--config-file", path)], project="test",
         default_config_files=[], default_config_dirs=[])
    assert (conf.hyperv_host.url, conf.hyperv_host.password) == (url, password)


@pytest.mark.parametrize("password", ["pa$sword", "pa${Sword}", "$Password"])
def test_a_substitution_in_the_password_is_refused_without_showing_it(
        tmp_path: Path, password: str) -> None:
    ini = tmp_path / "agent.ini"
    ini.write_text(f"[hyperv_host]\nurl = emulator://a\npassword = {password}\n")
    with pytest.raises(InvalidParameter) as error:
        host_show.read_host_options([str(ini)])
    assert "[hyperv_host] password" in str(error.value)
    assert password not in str(error.value)


# -- the password, over WS-Management ---------------------------------------------------------
@pytest.fixture
def remote() -> Iterator[tuple[str, EmulatedHost]]:
    """A prepared emulated host served over HTTPS with PASSWORD: (URL, host)."""
    with served_host(password=PASSWORD) as served:
        session = connect(served.url, password=PASSWORD)
        prepare(session)
        session.close()
        yield served.url, served.server.host


def write_ini(tmp_path: Path, url: str, password: str | None) -> str:
    ini = tmp_path / "hyperv_agent.ini"
    lines = ["[hyperv_host]", f"url = {url}"] + ([f"password = {password}"] if password else [])
    ini.write_text("\n".join(lines) + "\n")
    return str(ini)


def test_a_remote_host_with_the_password_from_the_config_file(
        remote: tuple[str, EmulatedHost], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = remote
    ini = write_ini(tmp_path, url, PASSWORD)
    for args in ([], ["--json"], ["--port", "port-a", "--acls"]):
        status, out, err = run(capsys, "--config-file", ini, *args)
        assert status == 0, err
        assert "port-a" in out
        assert PASSWORD not in out + err
    status, out, _ = run(capsys, "--config-file", ini, "--json")
    assert json.loads(out)["host"]["url"].startswith("https://127.0.0.1:")  # no user name


def test_the_password_variable_wins_over_the_file(
        remote: tuple[str, EmulatedHost], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = remote
    monkeypatch.setenv(host_show.PASSWORD_VARIABLE, PASSWORD)
    status, out, err = run(capsys, "--config-file", write_ini(tmp_path, url, "wrong-one"))
    assert status == 0, err
    status, out, err = run(capsys, "--url", url)
    assert status == 0, err
    assert PASSWORD not in out + err


def test_a_wrong_password_fails_without_showing_either(
        remote: tuple[str, EmulatedHost], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = remote
    wrong = "Wr0ng-pa55word-never-shown"
    status, out, err = run(capsys, "--config-file", write_ini(tmp_path, url, wrong))
    assert status == 1
    assert err.startswith("winstackers: ")
    assert wrong not in out + err and PASSWORD not in out + err


# -- host calls -------------------------------------------------------------------------------
def overview_calls(url: str, ports: int, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The host calls of one overview with *ports* connected ports on web-1."""
    session = connect(url)
    host = getattr(session, "emulated_host", None)
    assert isinstance(host, EmulatedHost)
    vnics, switch_ports = VNics(session), SwitchPorts(session)
    while len(vnics.list_all("web-1")) < ports:
        name = f"extra-{len(vnics.list_all('web-1'))}"
        vnics.add("web-1", name)
        switch_ports.apply(name, PortState("vSwitch-physnet1", Vlan.access(7), acls=RULES))
    host.counters.reset()
    status, out, _ = run(capsys, "--url", url)
    assert status == 0 and "extra-" in out
    return {"by_operation": host.counters.by_operation(), "writes": host.counters.writes}


def test_the_overview_costs_a_constant_number_of_reads(
        url: str, capsys: pytest.CaptureFixture[str]) -> None:
    small = overview_calls(url, 2, capsys)
    large = overview_calls(url, 20, capsys)
    assert small == large
    assert small["writes"] == 0
    assert set(small["by_operation"]) == {"query"}
    assert small["by_operation"]["query"] <= 25


# -- formatting -------------------------------------------------------------------------------
@pytest.mark.parametrize(("bps", "text"), [(0, "0 bit/s"), (999, "999 bit/s"),
                                            (10**9, "1 Gbit/s"), (1_500_000, "1.5 Mbit/s"),
                                            (10 * 1024 * 1024, "10.5 Mbit/s")])
def test_bits_per_second(bps: int, text: str) -> None:
    assert host_show.bits_per_second(bps) == text


def test_vlan_id_ranges() -> None:
    assert host_show.id_ranges([20, 10, 11, 12, 4094, 30, 31]) == "10-12,20,30-31,4094"


def test_the_command_goes_through_the_host_library_only() -> None:
    source = Path(host_show.__file__).read_text()
    assert "Msvm_" not in source
    assert "SELECT" not in source
