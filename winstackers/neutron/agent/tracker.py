"""The agent's memory of its ports, shared by the loop and RPC callbacks.

RPC callbacks run in oslo.messaging's threads and only *mark* ports (to
re-wire, or to disconnect); the loop takes the marks once per iteration
and does the work, so a burst of notifications costs one pass.  What
neutron changes is found through indexes kept from the last wiring: a
port's network, the security groups and address groups its rules depend
on, its QoS policy, its trunk.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Tracked:
    """What the agent last learnt of one port on its host."""

    network_id: str | None = None
    groups: frozenset[str] = frozenset()
    qos_policy_id: str | None = None
    up: bool = False
    #: For a trunk parent: the trunk, and the subports bound to this host.
    trunk_id: str | None = None
    subports: frozenset[str] = frozenset()


class PortTracker:
    """Ports present on the host, what they depend on, and pending marks.
    Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ports: dict[str, Tracked] = {}
        self._updated: set[str] = set()
        self._deleted: set[str] = set()
        #: Ports whose security groups' rules or members changed, and
        #: nothing else: only their ACLs need to be recomputed.
        self._security: set[str] = set()

    # -- marks (RPC threads) ------------------------------------------------
    def mark_updated(self, port_ids: Iterable[str]) -> None:
        """Re-wire these ports at the next iteration."""
        with self._lock:
            self._updated.update(port_ids)

    def mark_deleted(self, port_ids: Iterable[str]) -> None:
        """Disconnect these ports (their neutron ports are gone)."""
        with self._lock:
            self._deleted.update(port_ids)

    def _having(self, attr: str, wanted: Iterable[object]) -> set[str]:
        """Ports whose *attr* is one of *wanted* (call with the lock held)."""
        values = set(wanted)
        return {pid for pid, port in self._ports.items() if getattr(port, attr) in values}

    def mark_network(self, network_id: str, *, deleted: bool = False) -> None:
        """Re-wire (or, when it was deleted, disconnect) a network's ports."""
        with self._lock:
            (self._deleted if deleted else self._updated).update(
                self._having("network_id", [network_id]))

    def mark_groups(self, group_ids: Iterable[str]) -> None:
        """Recompute the ACLs of ports depending on these security or
        address groups (their rules or members changed)."""
        wanted = set(group_ids)
        with self._lock:
            self._security.update(pid for pid, port in self._ports.items()
                                  if port.groups & wanted)

    def mark_qos_policies(self, policy_ids: Iterable[str]) -> None:
        """Re-wire ports under these QoS policies."""
        with self._lock:
            self._updated.update(self._having("qos_policy_id", policy_ids))

    def mark_trunks(self, trunk_ids: Iterable[str]) -> None:
        """Re-wire the parent ports of these trunks."""
        with self._lock:
            self._updated.update(self._having("trunk_id", trunk_ids))

    def take(self) -> tuple[set[str], set[str]]:
        """The marks (updated, deleted) for ports present, cleared."""
        with self._lock:
            updated = self._updated & self._ports.keys()
            deleted = self._deleted & self._ports.keys()
            self._updated, self._deleted = set(), set()
            return updated - deleted, deleted

    def take_security(self) -> set[str]:
        """The security-only marks for ports present, cleared (call after
        :meth:`take`; a port also marked for re-wiring is in neither twice)."""
        with self._lock:
            marked = self._security & self._ports.keys()
            self._security = set()
            return marked

    def give_back(self, updated: Iterable[str], deleted: Iterable[str],
                  security: Iterable[str] = ()) -> None:
        """Put marks back after an iteration failed."""
        with self._lock:
            self._updated.update(updated)
            self._deleted.update(deleted)
            self._security.update(security)

    # -- bookkeeping (the loop) ---------------------------------------------
    def present(self, port_ids: Iterable[str]) -> None:
        """These vNICs are on the host (known to neutron or not yet)."""
        with self._lock:
            for pid in port_ids:
                self._ports.setdefault(pid, Tracked())

    def record(self, port_id: str, tracked: Tracked) -> None:
        """What was learnt of a port when it was last wired."""
        with self._lock:
            self._ports[port_id] = tracked

    def forget(self, port_ids: Iterable[str]) -> None:
        """These vNICs are gone from the host."""
        with self._lock:
            for pid in port_ids:
                self._ports.pop(pid, None)

    def get(self, port_id: str) -> Tracked:
        """What is known of a port (an empty record when nothing is)."""
        with self._lock:
            return self._ports.get(port_id) or Tracked()

    def known(self) -> set[str]:
        """Every vNIC present on the host."""
        with self._lock:
            return set(self._ports)

    def is_up(self, port_id: str) -> bool:
        """Whether the port was last reported up."""
        with self._lock:
            port = self._ports.get(port_id)
            return port is not None and port.up

    def count_up(self) -> int:
        """How many ports are wired and up (the heartbeat's ``devices``)."""
        with self._lock:
            return sum(1 for port in self._ports.values() if port.up)
