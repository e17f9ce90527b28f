"""The agent's options: registration, parsing, and bad values naming the option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from neutron.conf.agent import common as agent_common
from neutron.conf.plugins.ml2.drivers import agent as ml2_agent
from oslo_config import cfg

from winstackers.cim import connect
from winstackers.hyperv.hostinfo import read_host_info
from winstackers.neutron.agent import config
from winstackers.neutron.agent.config import AgentConfigError, AgentSettings

MAPPINGS = "physical_network_vswitch_mappings"


def conf_with(tmp_path: Path, text: str) -> cfg.ConfigOpts:
    """A private ConfigOpts with the agent's options and *text* as its file."""
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("host", default="hv1"))
    config.register_opts(conf)
    path = tmp_path / "agent.ini"
    path.write_text(text)
    conf(args=["--config-file", str(path)], project="test")
    return conf


def settings(**changes: object) -> AgentSettings:
    base: dict[str, object] = {
        "vswitch_mappings": {"physnet1": "vSwitch-physnet1"}, "local_vswitch": None,
        "polling_interval": 2.0, "report_interval": 30.0, "worker_count": 10,
        "url": "emulator://", "password": None, "host": "hv1"}
    return AgentSettings(**{**base, **changes})  # type: ignore[arg-type]


def test_options_load_with_the_names_operators_know(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, "[AGENT]\n"
                     "physical_network_vswitch_mappings = physnet1:vSwitch-physnet1, "
                     "*:vSwitch:with:colons\n"
                     "local_network_vswitch = vSwitch-private\n"
                     "polling_interval = 5\nworker_count = 4\n"
                     "[hyperv_host]\nurl = https://admin@hv1:5986/wsman?auth=ntlm\n"
                     "password = s3cret\n")
    loaded = config.load(conf)
    assert loaded.vswitch_mappings == {"physnet1": "vSwitch-physnet1",
                                       "*": "vSwitch:with:colons"}
    assert (loaded.local_vswitch, loaded.polling_interval, loaded.worker_count) == (
        "vSwitch-private", 5.0, 4)
    assert loaded.report_interval == 30.0 and loaded.password == "s3cret"
    assert loaded.vswitches == {"vSwitch-physnet1", "vSwitch:with:colons", "vSwitch-private"}


def test_registering_beside_neutrons_own_agent_options_is_no_duplicate() -> None:
    conf = cfg.ConfigOpts()
    ml2_agent.register_agent_opts(conf)
    agent_common.register_agent_state_opts_helper(conf)
    config.register_opts(conf)
    config.register_opts(conf)
    assert conf.AGENT.polling_interval == 2 and conf.AGENT.report_interval == 30


def test_list_opts_documents_every_option() -> None:
    groups = {group: {opt.name for opt in opts} for group, opts in config.list_opts()}
    assert groups["agent"] >= {MAPPINGS, "local_network_vswitch", "worker_count",
                               "polling_interval", "report_interval"}
    assert groups["hyperv_host"] == {"url", "password"}
    password = next(o for o in config.HOST_OPTS if o.name == "password")
    assert password.secret


@pytest.mark.parametrize("item", ["physnet1", ":vSwitch-a", "physnet1:", "  :  "])
def test_malformed_mapping_names_the_option(item: str) -> None:
    with pytest.raises(AgentConfigError, match=rf"\[AGENT\] {MAPPINGS}: .*is not"):
        config.parse_mappings([item])


def test_physical_network_mapped_twice_names_the_option() -> None:
    with pytest.raises(AgentConfigError, match=rf"{MAPPINGS}: .*'physnet1' is mapped twice"):
        config.parse_mappings(["physnet1:a", "physnet1:b"])


@pytest.mark.parametrize(("url", "why"), [
    (None, "is required"),
    ("ftp://hv1/", "unknown scheme 'ftp'"),
    ("hv1.example.org", "unknown scheme ''"),
    ("https://admin:pw@hv1:5986/wsman", "put the password in"),
])
def test_bad_host_url_names_the_option(url: str | None, why: str) -> None:
    with pytest.raises(AgentConfigError, match=r"\[hyperv_host\] url: ") as info:
        config.check_url(url)
    assert why in str(info.value) and "pw" not in str(info.value)


def test_bad_worker_count_is_refused_by_oslo_naming_the_option(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, "[AGENT]\nworker_count = 0\n")
    with pytest.raises(cfg.ConfigFileValueError, match="worker_count"):
        config.load(conf)


def test_mapping_to_a_vswitch_the_host_lacks_names_option_and_switches() -> None:
    info = read_host_info(connect("emulator://"))
    with pytest.raises(AgentConfigError, match=rf"{MAPPINGS}: 'physnet2' maps to vSwitch "
                                               r"'vSwitch-nope', which host .* does not have "
                                               r"\(it has: vSwitch-physnet1, vSwitch-sriov\)"):
        config.check_against_host(settings(vswitch_mappings={"physnet2": "vSwitch-nope"}), info)
    config.check_against_host(settings(), info)


def test_local_vswitch_the_host_lacks_names_the_option() -> None:
    info = read_host_info(connect("emulator://"))
    with pytest.raises(AgentConfigError, match=r"\[AGENT\] local_network_vswitch: vSwitch "
                                               r"'vSwitch-private' does not exist"):
        config.check_against_host(settings(local_vswitch="vSwitch-private"), info)


def run_agent(tmp_path: Path, ini: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "agent.ini"
    path.write_text(ini)
    code = "from winstackers.neutron.agent.main import main; main()"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-c", code, "--config-file", str(path)],
                          capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize(("ini", "option"), [
    ("[AGENT]\nphysical_network_vswitch_mappings = physnet1:vSwitch-nope\n"
     "[hyperv_host]\nurl = emulator://\n", "[AGENT] physical_network_vswitch_mappings"),
    ("[hyperv_host]\nurl = local://\n", "[hyperv_host] url"),
])
def test_the_agent_stops_at_start_naming_the_bad_option(tmp_path: Path, ini: str,
                                                        option: str) -> None:
    done = run_agent(tmp_path, ini)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"neutron-hyperv-agent: {option}:" in done.stderr


@pytest.mark.parametrize(("query", "expected"), [
    # The emulator's CA is not in the default trust store.
    ({"verify": "true"}, "neutron-hyperv-agent: the Hyper-V host cannot be used: the TLS "
                         "certificate of 127.0.0.1 is not trusted"),
    ({"auth": "certificate"}, "neutron-hyperv-agent: [hyperv_host] url: invalid parameter "
                              "for connection to 127.0.0.1: auth=certificate is not supported"),
])
def test_host_settings_waiting_cannot_fix_stop_the_agent_at_start(
        tmp_path: Path, query: dict[str, str], expected: str) -> None:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    from winstackers.emulator.wsman.fixtures import served_host

    with served_host() as served:
        parts = urlsplit(served.url)
        url = urlunsplit(parts._replace(query=urlencode({**dict(parse_qsl(parts.query)),
                                                         **query})))
        done = run_agent(tmp_path, f"[hyperv_host]\nurl = {url}\npassword = {served.password}\n")
    assert done.returncode == 1, done.stderr[-2000:]
    assert expected in done.stderr
    assert served.password not in done.stderr


def test_wrong_credentials_stop_the_agent_at_start_without_showing_them(
        tmp_path: Path) -> None:
    from winstackers.emulator.wsman.fixtures import served_host

    with served_host() as served:
        wrong = f"not-{served.password}"
        done = run_agent(tmp_path, f"[hyperv_host]\nurl = {served.url}\npassword = {wrong}\n")
    assert done.returncode == 1, done.stderr[-2000:]
    assert ("neutron-hyperv-agent: the Hyper-V host cannot be used: access denied to "
            "127.0.0.1 as user 'winstackers'") in done.stderr
    assert wrong not in done.stderr and served.password not in done.stderr


def test_a_host_that_does_not_answer_at_start_is_retried_until_sigterm(
        tmp_path: Path) -> None:
    import signal
    import socket
    import time

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "agent.ini"
    path.write_text("[AGENT]\npolling_interval = 1\n[hyperv_host]\n"
                    f"url = https://admin@127.0.0.1:{port}/wsman?auth=basic\npassword = pw\n")
    code = "from winstackers.neutron.agent.main import main; main()"
    agent = subprocess.Popen([sys.executable, "-c", code, "--config-file", str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
    seen: list[str] = []
    deadline = time.monotonic() + 60
    assert agent.stdout is not None
    while len([line for line in seen if "does not answer" in line]) < 3:
        line = agent.stdout.readline()
        assert line and time.monotonic() < deadline, "".join(seen)[-2000:]
        seen.append(line)
    started_waiting = time.monotonic()
    agent.send_signal(signal.SIGTERM)
    rest, _ = agent.communicate(timeout=30)
    err = "".join(seen) + rest
    assert agent.returncode == 0, err[-2000:]
    assert time.monotonic() - started_waiting < 10
    tries = [line for line in err.splitlines() if "does not answer" in line]
    assert 3 <= len(tries) <= 4, err[-2000:]  # one per polling interval
    assert f"host https://127.0.0.1:{port}/wsman?auth=basic does not answer" in tries[0]
    assert "Traceback" not in err and "pw\n" not in err
