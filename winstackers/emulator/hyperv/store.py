"""In-memory instance store of the emulated host.

Instances are kept per class as plain property dicts keyed by their
:class:`~winstackers.cim.values.Reference`; associations are instances of
association classes whose key properties are references.  Callers outside
the emulator only ever see :class:`~winstackers.cim.values.Instance`
snapshots built by :meth:`Store.snapshot`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from winstackers.cim import wql
from winstackers.cim.errors import InvalidParameter, InvalidQuery, NotFound
from winstackers.cim.values import Instance, Reference
from winstackers.emulator.hyperv.index import QueryIndex
from winstackers.emulator.hyperv.schema import CimClass, Schema


class Store:
    """Instances by class, with associations and WQL evaluation."""

    def __init__(self, schema: Schema, namespace: str) -> None:
        self.schema = schema
        self.namespace = namespace
        self._data: dict[str, dict[Reference, dict[str, Any]]] = {}
        #: instance reference -> the association instances that refer to it
        #: (a dict used as an insertion-ordered set)
        self._links: dict[Reference, dict[Reference, None]] = {}
        self._index = QueryIndex()

    # -- identity -----------------------------------------------------------
    def ref_for(self, cls: CimClass, props: Mapping[str, Any]) -> Reference:
        """The reference of an instance of *cls* with *props*."""
        keys = {name: props.get(name) for name in cls.keys}
        missing = [name for name, value in keys.items() if value in (None, "")]
        if missing:
            raise InvalidParameter(where=cls.name, detail=f"key properties not set: {missing}")
        return Reference.build(cls.namespace, cls.name, keys)

    # -- writes -------------------------------------------------------------
    def add(self, class_name: str, props: Mapping[str, Any]) -> Reference:
        """Store a new instance, filling defaults for unset properties.

        :raises InvalidParameter: on an unknown property or a duplicate key.
        """
        cls = self.schema.get(class_name)
        record = cls.defaults()
        for name, value in props.items():
            record[cls.canonical(name)] = value
        ref = self.ref_for(cls, record)
        table = self._data.setdefault(cls.name.lower(), {})
        if ref in table:
            raise InvalidParameter(where=cls.name, detail=f"an instance {ref} already exists")
        table[ref] = record
        self._index.add(cls.name.lower(), ref, record)
        if cls.association:
            for end in record.values():
                if isinstance(end, Reference):
                    self._links.setdefault(end, {})[ref] = None
        return ref

    def update(self, ref: Reference, changes: Mapping[str, Any]) -> None:
        """Change properties of a stored instance."""
        record = self.get(ref)
        cls = self.schema.get(ref.class_name)
        self._index.remove(cls.name.lower(), ref, record)
        for name, value in changes.items():
            record[cls.canonical(name)] = value
        self._index.add(cls.name.lower(), ref, record)

    def remove(self, ref: Reference) -> None:
        """Delete an instance and every association that refers to it."""
        record = self._table(ref).pop(ref, None)
        if record is not None:
            self._index.remove(ref.class_name.lower(), ref, record)
        for assoc_ref in list(self._links.pop(ref, ())):
            self.remove(assoc_ref)
        for end in (record or {}).values():
            if isinstance(end, Reference) and end in self._links:
                self._links[end].pop(ref, None)

    def associate(self, assoc_class: str, **ends: Reference) -> Reference:
        """Record an association instance between the references *ends*."""
        return self.add(assoc_class, ends)

    # -- reads --------------------------------------------------------------
    def _table(self, ref: Reference) -> dict[Reference, dict[str, Any]]:
        return self._data.get(ref.class_name.lower(), {})

    def find(self, ref: Reference) -> dict[str, Any] | None:
        """The live record for *ref*, or None (emulator-internal use)."""
        return self._table(ref).get(ref)

    def get(self, ref: Reference) -> dict[str, Any]:
        """The live record for *ref*.

        :raises NotFound: naming the reference.
        """
        record = self.find(ref)
        if record is None:
            raise NotFound(what=f"instance {ref}")
        return record

    def instances(self, class_name: str) -> Iterator[tuple[Reference, dict[str, Any]]]:
        """Every instance of *class_name* and of its subclasses."""
        for cls in self.schema.subclasses(class_name):
            yield from list(self._data.get(cls.name.lower(), {}).items())

    def snapshot(self, ref: Reference, record: Mapping[str, Any] | None = None,
                 only: tuple[str, ...] | None = None) -> Instance:
        """A read-only copy of an instance (optionally only some properties)."""
        record = self.get(ref) if record is None else record
        cls = self.schema.get(ref.class_name)
        names = [cls.canonical(n) for n in only] if only else list(record)
        props = {name: _copy(record[name]) for name in names}
        types = {name: cls.properties[name].type for name in names}
        return Instance(cls.name, props, ref, types)

    # -- associations -------------------------------------------------------
    def references_of(self, ref: Reference, result_class: str | None = None,
                      role: str | None = None) -> Iterator[tuple[Reference, dict[str, Any]]]:
        """Association instances that have *ref* as one of their ends."""
        for assoc_ref in list(self._links.get(ref, ())):
            if result_class and not self.schema.is_a(assoc_ref.class_name, result_class):
                continue
            record = self.find(assoc_ref)
            if record is not None and any(
                    v == ref and (role is None or k.lower() == role.lower())
                    for k, v in record.items()):
                yield assoc_ref, record

    def associators(self, ref: Reference, assoc_class: str | None = None,
                    result_class: str | None = None, role: str | None = None,
                    result_role: str | None = None) -> list[Reference]:
        """The references associated with *ref*, filtered as CIM does."""
        found: list[Reference] = []
        for _, record in self.references_of(ref, assoc_class, role):
            for end_role, other in record.items():
                if other == ref or not isinstance(other, Reference):
                    continue
                if result_role and end_role.lower() != result_role.lower():
                    continue
                if result_class and not self.schema.is_a(other.class_name, result_class):
                    continue
                if self.find(other) is not None and other not in found:
                    found.append(other)
        return found

    # -- queries ------------------------------------------------------------
    def select(self, query: wql.SelectQuery, text: str,
               namespace: str | None = None) -> list[Instance]:
        """Evaluate a parsed SELECT against the store, strictly.

        :raises InvalidQuery: for an unknown class or property, or a class
            of another namespace than *namespace* (default: the store's).
        """
        try:
            cls = self.schema.get(query.class_name)
        except NotFound:
            raise InvalidQuery(query=text, detail=f"invalid class {query.class_name!r}") from None
        wanted = (namespace or self.namespace).replace("\\", "/").strip("/").lower()
        if cls.namespace.lower() != wanted:
            raise InvalidQuery(query=text, detail=f"invalid class {query.class_name!r} in "
                               f"namespace {wanted} (it is in {cls.namespace})")
        for name in (query.properties or ()) + tuple(wql.referenced_properties(query.where)):
            if not cls.has(name):
                raise InvalidQuery(query=text, detail=f"{cls.name} has no property {name!r}")
        return [self.snapshot(ref, record, query.properties)
                for ref, record in self._select_candidates(cls.name, query.where)
                if wql.matches(query.where, record)]

    def _select_candidates(self, class_name: str,
                           where: wql.Expr | None) -> Iterator[tuple[Reference, dict[str, Any]]]:
        for cls in self.schema.subclasses(class_name):
            table = self._data.get(cls.name.lower(), {})
            refs = self._index.candidates(cls.name.lower(), where)
            if refs is None:
                yield from list(table.items())
            else:
                yield from [(ref, table[ref]) for ref in refs if ref in table]

    # -- persistence --------------------------------------------------------
    def dump(self) -> list[dict[str, Any]]:
        """Every instance as JSON-able data (references as object paths)."""
        rows = []
        for table in self._data.values():
            for ref, record in table.items():
                rows.append({"class": ref.class_name,
                             "properties": {k: _to_json(v) for k, v in record.items()}})
        return rows

    def load(self, rows: list[dict[str, Any]]) -> None:
        """Replace the contents with what :meth:`dump` produced."""
        self._data.clear()
        self._links.clear()
        self._index.clear()
        for row in rows:
            cls = self.schema.get(row["class"])
            props = {k: _from_json(v) for k, v in row["properties"].items()}
            self.add(cls.name, props)


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def _to_json(value: Any) -> Any:
    if isinstance(value, Reference):
        return {"$ref": value.path}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "$ref" in value:
        return Reference.parse(value["$ref"])
    return value
