"""File channels (``winstackers.files``) without a Hyper-V host: the local
and directory channels on a temporary directory, the SMB channel's mapping
of host paths onto its share, and which channel a host URL gets.  The SMB
channel against a real smbd is tested in ``tests/nova/test_disks.py``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from winstackers.cim import connect
from winstackers.files import (
    CHUNK,
    DirectoryChannel,
    FileChannelError,
    LocalChannel,
    SmbChannel,
    Unavailable,
    open_channel,
)
from winstackers.files.smb import parse_share

INSTANCES = "C:\\OpenStack\\Instances"


def test_local_channel_uploads_in_chunks_under_a_temporary_name(tmp_path: Path) -> None:
    source = tmp_path / "image"
    source.write_bytes(os.urandom(2 * CHUNK + 17))
    channel = LocalChannel()
    folder = str(tmp_path / "host" / "_base")
    channel.makedirs(folder)
    channel.makedirs(folder)  # existing: fine
    target = f"{folder}/image.vhdx"
    channel.upload(str(source), target)
    assert Path(target).read_bytes() == source.read_bytes()
    assert channel.size(target) == 2 * CHUNK + 17
    assert channel.listdir(folder) == ["image.vhdx"]  # no temporary file left


def test_local_channel_copies_renames_and_removes(tmp_path: Path) -> None:
    channel = LocalChannel()
    (tmp_path / "a").write_bytes(b"disk")
    channel.copy(str(tmp_path / "a"), str(tmp_path / "b"))
    channel.rename(str(tmp_path / "b"), str(tmp_path / "c"))
    assert sorted(channel.listdir(str(tmp_path))) == ["a", "c"]
    (tmp_path / "folder" / "inner").mkdir(parents=True)
    (tmp_path / "folder" / "inner" / "x").write_bytes(b"x")
    channel.remove(str(tmp_path / "folder"))
    channel.remove(str(tmp_path / "c"))
    channel.remove(str(tmp_path / "missing"))  # nothing to do
    assert channel.listdir(str(tmp_path)) == ["a"]
    assert not channel.exists(str(tmp_path / "folder"))


def test_a_failed_operation_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileChannelError, match="missing.*No such file"):
        LocalChannel().size(str(tmp_path / "missing"))


def test_directory_channel_maps_host_paths(tmp_path: Path) -> None:
    channel = DirectoryChannel(lambda p: tmp_path / p.replace("\\", "_"), "somewhere")
    (tmp_path / "source").write_bytes(b"abc")
    channel.upload(str(tmp_path / "source"), "C:\\x")
    assert (tmp_path / "C:_x").read_bytes() == b"abc"
    assert channel.where == "somewhere"


def test_smb_channel_maps_the_instances_folder_onto_its_share() -> None:
    channel = SmbChannel("\\\\hv01\\Instances", INSTANCES + "\\", username="admin",
                         password="secret")
    assert channel.server == "hv01"
    assert channel.remote(f"{INSTANCES}\\_base\\i.vhdx") == "\\\\hv01\\Instances\\_base\\i.vhdx"
    assert channel.remote("c:\\openstack\\instances\\X\\root.vhdx") == \
        "\\\\hv01\\Instances\\X\\root.vhdx"
    assert channel.remote(INSTANCES) == "\\\\hv01\\Instances"
    for outside in ("C:\\Windows\\x", "C:\\OpenStack\\InstancesX\\y", "D:\\OpenStack\\x"):
        with pytest.raises(FileChannelError, match="not under C:\\\\OpenStack\\\\Instances"):
            channel.remote(outside)


@pytest.mark.parametrize("share", ["hv01\\Instances", "\\\\hv01", "\\\\hv01\\", "C:\\x", ""])
def test_a_share_must_be_server_and_share(share: str) -> None:
    with pytest.raises(ValueError, match="is not an SMB share"):
        parse_share(share)


def test_the_url_scheme_picks_the_channel(tmp_path: Path) -> None:
    assert isinstance(open_channel("local://"), LocalChannel)
    smb = open_channel("https://EXAMPLE%5Cadmin@hv01:5986/wsman", password="p",
                       instances_path=INSTANCES, share="\\\\hv01\\Instances", share_port=4455)
    assert isinstance(smb, SmbChannel) and smb.where == "\\\\hv01\\Instances"
    assert smb._credentials == {"username": "EXAMPLE\\admin", "password": "p", "port": 4455}
    with pytest.raises(FileChannelError, match="instances_share"):
        open_channel("https://admin@hv01/wsman", instances_path=INSTANCES)
    with pytest.raises(FileChannelError, match="is not an SMB share"):
        open_channel("https://admin@hv01/wsman", instances_path=INSTANCES, share="hv01")

    in_memory = open_channel("emulator://", session=connect("emulator://"))
    assert isinstance(in_memory, Unavailable)
    with pytest.raises(FileChannelError, match="keeps its files in memory"):
        in_memory.exists(INSTANCES)
    rooted = open_channel("emulator://", session=connect(f"emulator://?files={tmp_path}"))
    rooted.makedirs(f"{INSTANCES}\\_base")
    assert (tmp_path / "C" / "OpenStack" / "Instances" / "_base").is_dir()
