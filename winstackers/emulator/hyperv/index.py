"""Indexes that keep the emulated host's WQL queries from scanning.

Hyper-V management code looks settings up by ``ElementName = '...'``,
``InstanceID = '...'`` and ``InstanceID LIKE 'Microsoft:<GUID>\\...%'``.
Scanning every instance for each such query makes a host with a thousand
VMs quadratic; these indexes narrow a query to candidates, which the store
then checks with the full WHERE clause, so answers are unchanged.

- a value index on ElementName and InstanceID (case-insensitive, as WQL
  compares strings);
- an owner index on InstanceID's first segment (``Microsoft:<GUID>``, up to
  the first backslash): a LIKE pattern whose literal start includes a
  backslash can only match instances of that owner.
"""

from __future__ import annotations

import re
from typing import Any

from winstackers.cim import wql
from winstackers.cim.values import Reference

INDEXED = ("elementname", "instanceid")
_WILDCARDS = re.compile(r"[%_\[]")

Bucket = dict[Reference, None]


class QueryIndex:
    """Value and owner indexes over one store."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], dict[str, Bucket]] = {}
        self._owners: dict[str, dict[str, Bucket]] = {}

    def add(self, class_key: str, ref: Reference, record: dict[str, Any]) -> None:
        """Index a stored instance."""
        for name, value in record.items():
            if name.lower() in INDEXED and isinstance(value, str):
                self._values.setdefault((class_key, name.lower()), {}).setdefault(
                    value.lower(), {})[ref] = None
                if name.lower() == "instanceid":
                    self._owners.setdefault(class_key, {}).setdefault(
                        _owner(value), {})[ref] = None

    def remove(self, class_key: str, ref: Reference, record: dict[str, Any]) -> None:
        """Forget an instance (before removal or before its values change)."""
        for name, value in record.items():
            if name.lower() in INDEXED and isinstance(value, str):
                self._values.get((class_key, name.lower()), {}).get(value.lower(), {}).pop(
                    ref, None)
                if name.lower() == "instanceid":
                    self._owners.get(class_key, {}).get(_owner(value), {}).pop(ref, None)

    def clear(self) -> None:
        """Forget everything."""
        self._values.clear()
        self._owners.clear()

    def candidates(self, class_key: str, where: wql.Expr | None) -> list[Reference] | None:
        """The only instances of *class_key* that can match *where*, or
        None when the clause gives no indexed handle (scan everything)."""
        for term in _conjuncts(where):
            if not isinstance(term.value, str):
                continue
            prop = term.prop.lower()
            if term.op == "=" and prop in INDEXED:
                return list(self._values.get((class_key, prop), {}).get(term.value.lower(), {}))
            if term.op == "LIKE" and prop == "instanceid":
                literal = _WILDCARDS.split(term.value, 1)[0]
                if "\\" in literal:
                    return list(self._owners.get(class_key, {}).get(_owner(literal), {}))
        return None


def _owner(instance_id: str) -> str:
    return instance_id.split("\\", 1)[0].lower()


def _conjuncts(expr: wql.Expr | None) -> list[wql.Comparison]:
    if isinstance(expr, wql.Comparison):
        return [expr]
    if isinstance(expr, wql.And):
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return []
