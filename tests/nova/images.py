"""Images for the compute driver's tests: nova's own ``GlanceFixture`` (what
``glance.API()`` reaches in nova's tests) in a pytest test, serving small
files the emulated host reads as virtual hard disks of any size
(:func:`winstackers.emulator.hyperv.filesroot.image_bytes`), and counting
downloads."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

from nova import objects
from nova.tests import fixtures as nova_fixtures

from winstackers.emulator.hyperv.filesroot import image_bytes

GIB = 1024 ** 3


class Glance:
    """nova's GlanceFixture, set up without a testtools test case."""

    def __init__(self, monkeypatch: Any) -> None:
        self._monkeypatch = monkeypatch
        self._cleanups: list[Callable[[], None]] = []
        self.fixture = self.useFixture(nova_fixtures.GlanceFixture(self))
        #: Image ids, one per download, in order.
        self.downloads: list[str] = []
        real = self.fixture.download

        def counting(context: Any, image_id: str, **kwargs: Any) -> Any:
            self.downloads.append(image_id)
            return real(context, image_id, **kwargs)

        monkeypatch.setattr(self.fixture, "download", counting)

    # what GlanceFixture asks of its test case
    def useFixture(self, fixture: Any) -> Any:  # noqa: N802 - testtools' name
        fixture.setUp()
        self._cleanups.append(fixture.cleanUp)
        return fixture

    def stub_out(self, old: str, new: Any) -> None:
        self._monkeypatch.setattr(old, new, raising=False)

    def close(self) -> None:
        while self._cleanups:
            self._cleanups.pop()()

    def add(self, disk_format: str = "vhdx", size: int = GIB,
            properties: dict[str, str] | None = None, data: bytes | None = None) -> Any:
        """A new image of *size* bytes (as the guest sees them), as nova's
        ImageMeta."""
        if data is None:
            data = image_bytes(disk_format, size) if disk_format in ("vhd", "vhdx") \
                else b"QFI\xfb" + bytes(60)
        meta = self.fixture.create(None, {
            "id": str(uuid.uuid4()), "name": "img", "disk_format": disk_format,
            "container_format": "bare", "status": "active", "size": len(data),
            "properties": dict(properties or {})}, data=io.BytesIO(data))
        return objects.ImageMeta.from_dict(meta)
