"""The one write path every mutation goes through.

A `UnitOfWork` lives inside one Neo4j write transaction. It creates and updates records with an
optimistic version check, writes an `AuditEntry` for each change, and stores the messages it
raises in the outbox (`graphdb.outbox`) in the same transaction; `Store.write` relays them to the
broker only after commit, so a worker never sees a change that was rolled back, and a process that
dies after commit leaves them for the relay sweep instead of losing them.

Announcements (`UnitOfWork.announce`) are what live subscribers hear of a change. Unlike messages
they are not stored: they are staged the same way and handed to the store's announcer
(`graphdb.feed`) after commit, and one that is lost is only a missed live update, never a lost
change.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from neo4j import ManagedTransaction

from core.access import Actor
from core.errors import NotFound, ValidationFailed, VersionConflict
from core.links import check_link, link_type
from core.record_types import RECORD_TYPES
from core.records import Direction, LinkField
from graphdb import outbox
from graphdb.driver import Graph
from graphdb.feed import Announcer
from graphdb.outbox import Message, Publisher

T = TypeVar("T")

log = logging.getLogger(__name__)

_IDENTIFIER = re.compile(r"^[A-Z][A-Za-z0-9_]{0,62}$")


def ident(name: str) -> str:
    """A label or relationship type, quoted for Cypher.

    Callers take names from the domain registries only; the pattern check is a second lock so that
    nothing else can ever reach a query string.
    """
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a registered graph identifier: {name!r}")
    return f"`{name}`"


def now() -> datetime:
    return datetime.now(UTC)


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, sort_keys=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "to_native"):
        return value.to_native().isoformat()
    return str(value)


__all__ = ["Announcer", "Message", "Publisher", "Store", "UnitOfWork", "ident", "now", "to_json"]


@dataclass
class UnitOfWork:
    tx: ManagedTransaction
    actor: Actor
    at: datetime = field(default_factory=now)
    messages: list[Message] = field(default_factory=list)
    # (topic, key) -> payload, in the order first announced; a later announcement under the same
    # key replaces the payload but keeps its place.
    announcements: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (label, record id, link field) -> (ids before, ids after) for every link set this unit of
    # work changed, so that a process's rules can see what an update moved (a reassignment).
    relinked: dict[tuple[str, str, str], tuple[tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=dict
    )

    # -- records -------------------------------------------------------------------------------

    def next_number(self, prefix: str) -> str:
        return f"{prefix}{self.reserve_numbers(prefix, 1):07d}"

    def create(
        self,
        label: str,
        props: Mapping[str, Any],
        *,
        extra_labels: tuple[str, ...] = (),
        record_id: str | None = None,
        version: int = 1,
    ) -> dict[str, Any]:
        record_type = RECORD_TYPES[label]
        values = {k: v for k, v in props.items() if v is not None}
        values["id"] = record_id or str(uuid.uuid4())
        if record_type.number_prefix and "number" not in values:
            values["number"] = self.next_number(record_type.number_prefix)
        values.update(createdAt=self.at, updatedAt=self.at, version=version)
        labels = ":".join(ident(x) for x in (label, *extra_labels))
        created = self.tx.run(
            f"CREATE (n:{labels}) SET n = $values RETURN properties(n) AS n", values=values
        ).single(strict=True)["n"]
        self.audit("create", label, values["id"], None, _visible(created))
        return dict(created)

    def create_many(
        self, label: str, rows: list[dict[str, Any]], *, extra_label_key: str | None = None
    ) -> list[dict[str, Any]]:
        """Create many records of one type with one UNWIND per extra label; audited in bulk.

        `extra_label_key` names the property whose value is the second label (a CI's class);
        callers guarantee it is a registered name.
        """
        record_type = RECORD_TYPES[label]
        prepared = []
        for row in rows:
            values = {k: v for k, v in row.items() if v is not None}
            values.setdefault("id", str(uuid.uuid4()))
            values["version"] = 1
            prepared.append(values)
        if record_type.number_prefix and prepared:
            first = self.reserve_numbers(record_type.number_prefix, len(prepared))
            for offset, values in enumerate(prepared):
                values.setdefault("number", f"{record_type.number_prefix}{first + offset:07d}")
        groups: dict[str, list[dict[str, Any]]] = {}
        for values in prepared:
            groups.setdefault(values[extra_label_key] if extra_label_key else "", []).append(values)
        for extra, group in groups.items():
            labels = ":".join(ident(x) for x in ((label, extra) if extra else (label,)))
            # The time goes once as a parameter: packing a datetime per row is slow in the driver.
            self.tx.run(
                f"UNWIND $rows AS row CREATE (n:{labels}) "
                "SET n = row, n.createdAt = $at, n.updatedAt = $at",
                rows=group,
                at=self.at,
            ).consume()
        self.audit_many([("create", label, v["id"], None, _visible(v)) for v in prepared])
        return prepared

    def append_many(
        self, label: str, rows: list[dict[str, Any]], *, times: Sequence[str] = ()
    ) -> list[str]:
        """Create append-only records (facts as they arrived: events) by their given ids, those
        not created before, with one UNWIND; returns the ids created, in order.

        Not audited per record: such a record is never changed, so its creation is its history,
        and an entry each would double the cost of a stream of them. `times` name properties
        given as ISO strings, stored as datetimes (packing a datetime per row is slow in the
        driver)."""
        if not rows:
            return []
        record_type = RECORD_TYPES[label]
        if record_type.number_prefix or record_type.states:
            raise ValueError(f"{label} has numbers or states: it is not append-only")
        declared = {prop.name for prop in record_type.properties}
        if not set(times) <= declared:
            raise ValueError(f"{label} declares no {sorted(set(times) - declared)}")
        token = str(uuid.uuid4())
        # Declared property names only, checked just above, reach the query string.
        converted = "".join(f", n.{t} = datetime(row.{t})" for t in times)
        created = self.tx.run(
            f"UNWIND $rows AS row MERGE (n:{ident(label)} {{id: row.id}}) "
            f"ON CREATE SET n += row{converted}, n.createdAt = $at, n.updatedAt = $at, "
            "  n.version = 1, n._appended = $token "
            "WITH n WHERE n._appended = $token REMOVE n._appended RETURN n.id AS id",
            rows=[{k: v for k, v in row.items() if v is not None} for row in rows],
            at=self.at,
            token=token,
        )
        return [r["id"] for r in created]

    def reserve_numbers(self, prefix: str, count: int) -> int:
        """Reserve `count` consecutive human numbers; returns the first."""
        record = self.tx.run(
            "MERGE (c:NumberSequence {prefix: $prefix}) ON CREATE SET c.last = 0 "
            "SET c.last = c.last + $count RETURN c.last AS last",
            prefix=prefix,
            count=count,
        ).single(strict=True)
        return int(record["last"]) - count + 1

    def update_many(
        self, label: str, changes: list[tuple[str, dict[str, Any], dict[str, Any]]]
    ) -> None:
        """Apply (id, before, after) property changes without a version check; audited in bulk.

        For writers that are authoritative by rule (reconciled imports), not for people editing.
        """
        if not changes:
            return
        self.tx.run(
            f"UNWIND $rows AS row MATCH (n:{ident(label)} {{id: row.id}}) "
            "SET n += row.after, n.version = n.version + 1, n.updatedAt = $at",
            rows=[{"id": i, "after": after} for i, _, after in changes],
            at=self.at,
        ).consume()
        self.audit_many([("update", label, i, before, after) for i, before, after in changes])

    def lock(self, label: str, record_id: str) -> dict[str, Any]:
        """Take the record's write lock, then read it.

        Reading before the lock would let two transactions both pass the version check; after the
        lock the read sees whatever the other transaction committed.
        """
        record = self.tx.run(
            # Writing a property takes the node's exclusive lock; a no-op write would not.
            f"MATCH (n:{ident(label)} {{id: $id}}) SET n._lock = true REMOVE n._lock "
            "RETURN properties(n) AS n",
            id=record_id,
        ).single()
        if record is None:
            raise NotFound(label, record_id)
        return dict(record["n"])

    def update(
        self,
        label: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None,
        remove: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        before = self.lock(label, record_id)
        if expected_version is not None and before["version"] != expected_version:
            raise VersionConflict(label, record_id, expected_version, int(before["version"]))
        changed = {k: v for k, v in changes.items() if before.get(k) != v and v is not None}
        removed = [k for k in remove if k in before]
        if not changed and not removed:
            return before
        after = self.tx.run(
            f"MATCH (n:{ident(label)} {{id: $id}}) "
            "SET n += $changes, n.version = n.version + 1, n.updatedAt = $at "
            "RETURN properties(n) AS n",
            id=record_id,
            # A null in a `+=` map removes that property.
            changes={**changed, **dict.fromkeys(removed)},
            at=self.at,
        ).single(strict=True)["n"]
        keys = set(changed) | set(removed)
        self.audit(
            "update",
            label,
            record_id,
            {k: before.get(k) for k in sorted(keys)},
            {k: after.get(k) for k in sorted(keys)},
        )
        return dict(after)

    def link(
        self,
        from_label: str,
        from_id: str,
        rel_type: str,
        to_label: str,
        to_id: str,
        props: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a relationship the link registry allows and record it in the audit trail of
        its source."""
        link_type(rel_type)
        # The labels the nodes really have are checked, not the ones the caller matched them by
        # (a Service is matched as a CI).
        ends = self.tx.run(
            f"MATCH (a:{ident(from_label)} {{id: $a}}) OPTIONAL MATCH (b:{ident(to_label)} "
            "{id: $b}) RETURN labels(a) AS a, labels(b) AS b",
            a=from_id,
            b=to_id,
        ).single()
        if ends is None:
            raise NotFound(from_label, from_id)
        if not ends["b"]:
            raise NotFound(to_label, to_id, field="targetId")
        check_link(rel_type, ends["a"], ends["b"])
        values = {**(props or {}), "createdAt": self.at, "createdBy": self.actor.name}
        created = dict(
            self.tx.run(
                f"MATCH (a:{ident(from_label)} {{id: $a}}), (b:{ident(to_label)} {{id: $b}}) "
                f"CREATE (a)-[r:{ident(rel_type)}]->(b) SET r = $values RETURN properties(r) AS r",
                a=from_id,
                b=to_id,
                values=values,
            ).single(strict=True)["r"]
        )
        self.audit(
            "relate", from_label, from_id, None, {"type": rel_type, "targetId": to_id, **created}
        )
        return created

    def link_many(
        self,
        from_label: str,
        rel_type: str,
        to_label: str,
        rows: list[dict[str, Any]],
        common: Mapping[str, Any] | None = None,
    ) -> None:
        """Create many relationships of one type, rows {s, t, props}, with one UNWIND.

        `common` properties go once as a parameter for the whole batch. Callers audit in their
        own grouping (an import writes one entry per source CI, not one per relationship).
        """
        link = link_type(rel_type)
        if not rows:
            return
        created = self.tx.run(
            f"UNWIND $rows AS row MATCH (s:{ident(from_label)} {{id: row.s}}), "
            f"(t:{ident(to_label)} {{id: row.t}}) "
            "WHERE ('*' IN $sources OR any(l IN labels(s) WHERE l IN $sources)) "
            "  AND ('*' IN $targets OR any(l IN labels(t) WHERE l IN $targets)) "
            f"CREATE (s)-[r:{ident(rel_type)}]->(t) SET r = row.props, r += $common, "
            "r.createdAt = $at, r.createdBy = $actor RETURN count(r) AS created",
            rows=rows,
            sources=sorted(link.sources),
            targets=sorted(link.targets),
            common=dict(common or {}),
            at=self.at,
            actor=self.actor.name,
        ).single(strict=True)["created"]
        if created != len(rows):
            # Raising rolls the whole transaction back: none of the batch is written.
            raise ValidationFailed(
                "type",
                "link_not_allowed",
                f"{len(rows) - created} of {len(rows)} {rel_type} relationships join records "
                f"that are missing or that {rel_type} may not join",
            )

    def set_links(
        self,
        label: str,
        record_id: str,
        link: LinkField,
        ids: Sequence[str],
        *,
        field: str,
    ) -> int:
        """Make a record's `link` relationships join exactly the records with these stored ids:
        the missing ones are created and the others removed, each audited. An id that is not a
        record of the link's other end is refused naming `field`. Returns how many changed."""
        other = link.other if link.other in RECORD_TYPES else "CI"
        wanted = list(dict.fromkeys(ids))
        found = {
            row["id"]: row["labels"]
            for row in self.tx.run(
                f"MATCH (o:{ident(other)}) WHERE o.id IN $ids RETURN o.id AS id, "
                "labels(o) AS labels",
                ids=wanted,
            )
        }
        for wanted_id in wanted:
            if wanted_id not in found:
                raise NotFound(link.other, wanted_id, field=field)
            if link.other not in found[wanted_id]:
                raise ValidationFailed(field, "wrong_type", f"{wanted_id!r} is not a {link.other}")
        pattern = (
            f"(r)-[x:{ident(link.type)}]->(o:{ident(link.other)})"
            if link.direction is Direction.OUT
            else f"(o:{ident(link.other)})-[x:{ident(link.type)}]->(r)"
        )
        current = [
            row["id"]
            for row in self.tx.run(
                f"MATCH (r:{ident(label)} {{id: $id}}) MATCH {pattern} RETURN o.id AS id",
                id=record_id,
            )
        ]
        ends = (label, other) if link.direction is Direction.OUT else (other, label)
        for gone in (i for i in current if i not in found):
            a, b = (record_id, gone) if link.direction is Direction.OUT else (gone, record_id)
            self.unlink(ends[0], a, link.type, ends[1], b)
        for added in (i for i in wanted if i not in current):
            a, b = (record_id, added) if link.direction is Direction.OUT else (added, record_id)
            try:
                self.link(ends[0], a, link.type, ends[1], b)
            except ValidationFailed as refused:
                raise ValidationFailed(field, refused.reason, refused.message) from refused
        changed = len(current) - len(set(current) & found.keys()) + len(set(wanted) - set(current))
        if changed:
            earlier = self.relinked.get((label, record_id, link.name))
            self.relinked[(label, record_id, link.name)] = (
                earlier[0] if earlier else tuple(current),
                tuple(wanted),
            )
        return changed

    def touch(self, label: str, record_id: str) -> None:
        """A new version of a record whose properties stayed (its links changed)."""
        self.tx.run(
            f"MATCH (n:{ident(label)} {{id: $id}}) "
            "SET n.version = n.version + 1, n.updatedAt = $at",
            id=record_id,
            at=self.at,
        ).consume()

    def unlink(
        self, from_label: str, from_id: str, rel_type: str, to_label: str, to_id: str
    ) -> int:
        """Delete the relationships of this type from one record to another, audited on the
        source with what the relationship carried; returns how many there were."""
        link_type(rel_type)
        rows = self.tx.run(
            f"MATCH (:{ident(from_label)} {{id: $a}})-[r:{ident(rel_type)}]->"
            f"(:{ident(to_label)} {{id: $b}}) "
            "WITH r, properties(r) AS props DELETE r RETURN props",
            a=from_id,
            b=to_id,
        )
        removed = [dict(r["props"]) for r in rows]
        for props in removed:
            self.audit(
                "unrelate",
                from_label,
                from_id,
                {"type": rel_type, "targetId": to_id, **props},
                None,
            )
        return len(removed)

    def transition(
        self,
        label: str,
        record_id: str,
        target: str,
        *,
        expected_version: int | None,
        changes: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Move a record along its state machine, with the changes that come with the step
        (a resolution code, an on-hold reason), in one audited write.

        The state machine checks the step, the role and the guards against the record as
        locked; the entry keeps the time of the change, which clocks are replayed from.
        """
        machine = RECORD_TYPES[label].states
        if machine is None:
            raise ValueError(f"{label} has no state machine")
        before = self.lock(label, record_id)
        if expected_version is not None and before["version"] != expected_version:
            raise VersionConflict(label, record_id, expected_version, int(before["version"]))
        extra = dict(changes or {})
        step = machine.check(label, before, target, self.actor.role, extra)
        values = {
            **{k: v for k, v in extra.items() if v is not None},
            machine.property: target,
            "stateChangedAt": self.at,
        }
        after = self.tx.run(
            f"MATCH (n:{ident(label)} {{id: $id}}) "
            "SET n += $values, n.version = n.version + 1, n.updatedAt = $at "
            "RETURN properties(n) AS n",
            id=record_id,
            values=values,
            at=self.at,
        ).single(strict=True)["n"]
        keys = sorted(set(values) - {"stateChangedAt"})
        self.audit(
            "transition",
            label,
            record_id,
            {k: before.get(k) for k in keys},
            {"transition": step.name, **{k: after.get(k) for k in keys}},
        )
        return dict(after)

    # -- audit and messages --------------------------------------------------------------------

    def audit(
        self,
        action: str,
        label: str,
        record_id: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None:
        self.audit_many([(action, label, record_id, before, after)])

    def audit_many(
        self,
        entries: list[tuple[str, str, str, Mapping[str, Any] | None, Mapping[str, Any] | None]],
    ) -> None:
        """(action, label, record id, before, after) for many records, one UNWIND per label."""
        by_label: dict[str, list[dict[str, Any]]] = {}
        for action, label, record_id, before, after in entries:
            by_label.setdefault(label, []).append(
                {
                    "id": str(uuid.uuid4()),
                    "action": action,
                    "recordId": record_id,
                    "before": to_json(before) if before is not None else None,
                    "after": to_json(after) if after is not None else None,
                }
            )
        for label, rows in by_label.items():
            self.tx.run(
                f"UNWIND $rows AS row MATCH (n:{ident(label)} {{id: row.recordId}}) "
                "CREATE (a:AuditEntry {id: row.id, actorId: $actorId, actor: $actorName, "
                "  actorRole: $actorRole, at: $at, action: row.action, recordLabel: $label, "
                "  recordId: row.recordId, before: row.before, after: row.after})-[:RECORDS]->(n)",
                rows=rows,
                actorId=self.actor.id,
                actorName=self.actor.name,
                actorRole=self.actor.role.value if self.actor.role else None,
                at=self.at,
                label=label,
            ).consume()

    def publish(self, actor_name: str, *args: Any, eta: datetime | None = None) -> None:
        """Raise a message for a worker, sent once this transaction commits (not before `eta`).

        Only names declared with `graphdb.outbox.message_name` are accepted, so that every name
        published has an actor to receive it.
        """
        if actor_name not in outbox.MESSAGE_NAMES:
            raise ValueError(f"undeclared message name {actor_name!r}; declare it first")
        self.messages.append(Message(actor_name, args, eta=eta))

    def announce(self, topic: str, payload: Mapping[str, Any], *, key: str | None = None) -> None:
        """Tell live subscribers of `topic` about this change once the transaction commits.

        `key` (a record id) keeps one announcement per record per unit of work: announcing it
        again replaces the payload. The payload must be JSON: anything else fails here, before
        commit, rather than in the announcer.
        """
        json.dumps(payload)
        self.announcements[(topic, key or str(uuid.uuid4()))] = dict(payload)

    def announced(self, topic: str, key: str) -> dict[str, Any] | None:
        """What this unit of work has announced so far under `key`, if anything."""
        return self.announcements.get((topic, key))


def _visible(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if k not in {"createdAt", "updatedAt"}}


class Store:
    """The graph plus where committed changes are announced.

    Without a publisher, messages stay in the outbox until a relay sweep sends them; without an
    announcer, nobody hears of changes live.
    """

    def __init__(
        self,
        graph: Graph,
        publisher: Publisher | None = None,
        announcer: Announcer | None = None,
    ) -> None:
        self.graph = graph
        self.publisher = publisher
        self.announcer = announcer

    def read(self, work: Callable[[ManagedTransaction], T]) -> T:
        return self.graph.read(work)

    def write(self, actor: Actor, work: Callable[[UnitOfWork], T]) -> T:
        last: list[UnitOfWork] = []

        def attempt(tx: ManagedTransaction) -> T:
            # The driver may retry this function on transient errors; each try starts clean.
            uow = UnitOfWork(tx, actor)
            last[:] = [uow]
            result = work(uow)
            outbox.stage(tx, uow.messages, uow.at)
            return result

        result = self.graph.write(attempt)
        if last and last[0].messages and self.publisher is not None:
            outbox.deliver(self.graph, self.publisher, last[0].messages, wait=False)
        if last and last[0].announcements and self.announcer is not None:
            _announce(self.announcer, last[0].announcements)
        return result


def _announce(
    announcer: Announcer, announcements: Mapping[tuple[str, str], dict[str, Any]]
) -> None:
    for (topic, _), payload in announcements.items():
        try:
            announcer(topic, payload)
        except Exception:
            # The change is committed: a subscriber missing it must not fail the write.
            log.exception("could not announce a change on %s", topic)
