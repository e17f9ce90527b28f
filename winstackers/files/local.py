"""File channels through the local file system.

:class:`LocalChannel`: the compute driver runs on the Hyper-V host itself
(``local://``), so a host path is a local path.  :class:`DirectoryChannel`:
host paths mapped into a local directory by a function, as an emulated
host with a files root lays them out
(:mod:`winstackers.emulator.hyperv.filesroot`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from winstackers.files.api import CHUNK, FileChannel, FileChannelError


@contextmanager
def _errors(path: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise FileChannelError(path, exc.strerror or str(exc)) from exc
    except ValueError as exc:
        raise FileChannelError(path, str(exc)) from exc


class DirectoryChannel(FileChannel):
    """Host paths mapped to local ones by *to_local*."""

    def __init__(self, to_local: Callable[[str], str | os.PathLike[str]],
                 where: str = "") -> None:
        self._to_local = to_local
        self.where = where or "this machine"

    def _local(self, path: str) -> Path:
        return Path(self._to_local(path))

    def exists(self, path: str) -> bool:
        with _errors(path):
            return self._local(path).exists()

    def size(self, path: str) -> int:
        with _errors(path):
            return self._local(path).stat().st_size

    def makedirs(self, path: str) -> None:
        with _errors(path):
            self._local(path).mkdir(parents=True, exist_ok=True)

    def upload(self, local_path: str, path: str) -> None:
        with _errors(path), open(local_path, "rb") as source:
            self._write(source, path)

    def copy(self, source: str, path: str) -> None:
        with _errors(path), open(self._local(source), "rb") as handle:
            self._write(handle, path)

    def _write(self, source: BinaryIO, path: str) -> None:
        target = self._local(path)
        tmp = target.with_name(f"{target.name}.part-{uuid.uuid4().hex[:8]}")
        try:
            with open(tmp, "wb") as sink:
                shutil.copyfileobj(source, sink, CHUNK)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def rename(self, source: str, path: str) -> None:
        with _errors(path):
            os.replace(self._local(source), self._local(path))

    def remove(self, path: str) -> None:
        with _errors(path):
            target = self._local(path)
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)

    def listdir(self, path: str) -> list[str]:
        with _errors(path):
            return sorted(os.listdir(self._local(path)))


class LocalChannel(DirectoryChannel):
    """The Hyper-V host's own files (the driver runs on the host)."""

    def __init__(self) -> None:
        super().__init__(lambda path: path, "the local host")
