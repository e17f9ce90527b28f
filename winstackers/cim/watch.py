"""Learning about created and deleted instances of a class, by polling.

WMI offers intrinsic events (``__InstanceCreationEvent``), but they are not
available the same way over every transport and they are lost while a
client is disconnected.  A poll that reads only the key properties of a
class and compares with the previous answer works on every transport,
survives reconnects and costs one query per interval; that is what the
agent uses to discover vNICs.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from winstackers.cim.api import Session
from winstackers.cim.values import Instance, Reference


@dataclass(frozen=True)
class Changes:
    """What changed between two polls."""

    created: list[Instance] = field(default_factory=list)
    deleted: list[Reference] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.deleted)


class InstanceWatcher:
    """Reports instances of a class that appeared or vanished since the
    previous :meth:`poll`.

    The first poll reports every existing instance as created, so a
    consumer that starts (or restarts) learns the whole current set.
    """

    def __init__(self, session: Session, class_name: str, where: str | None = None,
                 properties: Sequence[str] | None = None) -> None:
        """Watch *class_name*, optionally only instances matching the WQL
        condition *where*, reading only *properties* (which must include
        the class's keys, so each instance keeps its reference; all
        properties when None)."""
        self._session = session
        selected = ", ".join(properties) if properties else "*"
        self._wql = f"SELECT {selected} FROM {class_name}" + (f" WHERE {where}" if where else "")
        self._known: dict[Reference, Instance] = {}
        self._lock = threading.Lock()

    def poll(self) -> Changes:
        """Query once and return the difference from the last poll.

        :raises CimError: as :meth:`Session.query` does; the watcher's
            memory is unchanged then, so the next poll reports everything.
        """
        with self._lock:
            current = {inst.path: inst for inst in self._session.query(self._wql)
                       if inst.path is not None}
            created = [inst for ref, inst in current.items() if ref not in self._known]
            deleted = [ref for ref in self._known if ref not in current]
            self._known = current
            return Changes(created, deleted)

    def reset(self) -> None:
        """Forget what was seen: the next poll reports everything again."""
        with self._lock:
            self._known = {}
