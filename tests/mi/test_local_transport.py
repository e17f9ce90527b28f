"""The local transport's own behaviour, beyond the contract suite."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from winstackers.cim import NotSupported, connect
from winstackers.cim.transports.mi import MiSession

from . import fake_mi

CONTRACT = Path(__file__).resolve().parents[1] / "contract"


@pytest.mark.skipif(importlib.util.find_spec("mi") is not None, reason="PyMI is installed")
def test_local_url_without_pymi_says_what_to_do() -> None:
    with pytest.raises(NotSupported, match="PyMI.*Windows only.*https://"):
        connect("local://")


def test_every_contract_module_also_runs_over_mi() -> None:
    contract = {p.stem for p in CONTRACT.glob("test_*.py")}
    twins = {p.stem.removesuffix("_over_mi") for p in Path(__file__).parent.glob("*_over_mi.py")}
    assert contract == twins


def test_values_keep_their_types_through_mi(session: MiSession) -> None:
    vm = session.query("SELECT * FROM Msvm_VirtualEthernetSwitchSettingData")[0]
    assert isinstance(vm["IOVPreferred"], bool)
    assert isinstance(vm["BandwidthReservationMode"], int)
    assert vm.cim_types["Notes"] == "string[]"
    assert session.host == "localhost" and fake_mi.HOST is not None
