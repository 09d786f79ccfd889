"""Identification and reconciliation: how bulk imports from tools become CIs.

Each item is identified by its class's identification rules (serial number, FQDN, name …); a
match is updated attribute by attribute, anything else is created. A source writes only what it
sends: a field or attribute it leaves out (or sends as null) keeps its value, and removing one is
explicit, by naming it in the item's `clear`. An attribute that has an authoritative source is
only overwritten, or cleared, by that source. Rejected items are reported with their
reason and never half-written; an import never deletes anything. A dry run does the same work in
a transaction that is then rolled back, so it reports exactly what a real run would do.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.access import Actor, Permission
from core.errors import LimitExceeded, ValidationFailed
from domain import cmdb
from domain.changes.lifecycle import RECOUNT_CONFLICTS
from domain.configuration import BLAST_RADIUS_ACTOR
from graphdb.cypher import ci as ci_cypher
from graphdb.write_path import Store, UnitOfWork

MAX_ITEMS = 20_000
MAX_RELATIONSHIPS = 100_000


class Outcome(enum.StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


@dataclass(frozen=True)
class ImportItem:
    ci_class: str
    name: str
    key: str | None = None
    lifecycle: str | None = None
    criticality: str | None = None
    owner: str | None = None
    description: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    # Fields and attributes to remove, named as `changed` reports them: "owner", "os".
    clear: Sequence[str] = ()


@dataclass(frozen=True)
class ImportRelationship:
    type: str
    source_key: str | None = None
    source_id: str | None = None
    target_key: str | None = None
    target_id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ItemResult:
    index: int
    key: str | None
    outcome: Outcome = Outcome.REJECTED
    ci_id: str | None = None
    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    error: ValidationFailed | None = None


@dataclass
class RelationshipResult:
    index: int
    outcome: Outcome = Outcome.REJECTED
    error: ValidationFailed | None = None


@dataclass
class ImportResult:
    dry_run: bool
    items: list[ItemResult]
    relationships: list[RelationshipResult]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.items if r.outcome is outcome)


class _DryRun(Exception):
    """Raised inside the transaction so that everything it wrote is rolled back."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


def import_cis(
    store: Store,
    actor: Actor,
    source: str,
    items: Sequence[ImportItem],
    relationships: Sequence[ImportRelationship] = (),
    *,
    dry_run: bool = False,
) -> ImportResult:
    actor.require(Permission.WRITE_CMDB)
    source = source.strip()
    if not source:
        raise ValidationFailed(
            "source", "required", "name the source of the data (e.g. 'discovery')"
        )
    if len(items) > MAX_ITEMS:
        raise LimitExceeded("items", MAX_ITEMS, f"at most {MAX_ITEMS} items per import call")
    if len(relationships) > MAX_RELATIONSHIPS:
        raise LimitExceeded(
            "relationships",
            MAX_RELATIONSHIPS,
            f"at most {MAX_RELATIONSHIPS} relationships per call",
        )

    def work(uow: UnitOfWork) -> ImportResult:
        result = _reconcile(uow, source, items, relationships, dry_run)
        if dry_run:
            raise _DryRun(result)
        return result

    try:
        return store.write(actor, work)
    except _DryRun as rolled_back:
        return rolled_back.result


@dataclass
class _Candidate:
    result: ItemResult
    cls: cmdb.CIClass
    props: dict[str, Any]
    keys: list[str]
    cleared: dict[str, int] = field(default_factory=dict)


def _prepare(index: int, item: ImportItem) -> _Candidate | ItemResult:
    result = ItemResult(index, item.key)
    where = f"items[{index}]"
    try:
        props = cmdb.ci_properties(
            cmdb.NewCI(
                ci_class=item.ci_class,
                name=item.name,
                lifecycle=item.lifecycle or cmdb.Lifecycle.LIVE.value,
                criticality=item.criticality or cmdb.Criticality.MEDIUM.value,
                owner=item.owner,
                description=item.description,
                attributes=item.attributes,
            )
        )
        cls = cmdb.ci_class(props["ciClass"])
        cleared = _cleared(cls, item)
    except ValidationFailed as error:
        result.error = ValidationFailed(f"{where}.{error.field}", error.reason, error.message)
        return result
    # Fields the item did not send are not "changes to the default" on an existing CI, and a
    # null is not a value: neither overwrites what another source (or a person) wrote.
    for name, sent in (("lifecycle", item.lifecycle), ("criticality", item.criticality)):
        if sent is None:
            props.pop(name)
    props = {k: v for k, v in props.items() if v is not None}
    return _Candidate(result, cls, props, cmdb.identity_keys(cls, props), cleared)


def _cleared(cls: cmdb.CIClass, item: ImportItem) -> dict[str, int]:
    """The stored properties the item asks to remove, each with its place in `clear`."""
    sent = {"owner": item.owner, "description": item.description, **item.attributes}
    props: dict[str, int] = {}
    for n, name in enumerate(item.clear):
        where = f"clear[{n}]"
        if name in CLEARABLE_FIELDS:
            prop = name
        elif name in cls.attributes:
            prop = cmdb.ATTRIBUTE_PREFIX + name
        else:
            allowed = ", ".join(sorted(CLEARABLE_FIELDS | cls.attributes))
            raise ValidationFailed(
                where,
                "not_clearable",
                f"{name!r} cannot be cleared on a {cls.name}; one of: {allowed}",
            )
        if sent.get(name) is not None:
            raise ValidationFailed(
                where, "sent_and_cleared", f"{name!r} is both sent and cleared in this item"
            )
        props.setdefault(prop, n)
    return props


# Name, class, lifecycle and criticality always have a value; these may be absent.
CLEARABLE_FIELDS = frozenset({"owner", "description"})


def _reconcile(
    uow: UnitOfWork,
    source: str,
    items: Sequence[ImportItem],
    relationships: Sequence[ImportRelationship],
    dry_run: bool,
) -> ImportResult:
    results: list[ItemResult] = []
    candidates: list[_Candidate] = []
    claimed: dict[str, int] = {}
    keys_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        prepared = _prepare(index, item)
        if isinstance(prepared, ItemResult):
            results.append(prepared)
            continue
        results.append(prepared.result)
        clash = next((claimed[k] for k in prepared.keys if k in claimed), None)
        if item.key is not None and item.key in keys_seen:
            clash = keys_seen[item.key]
        if clash is not None:
            prepared.result.error = ValidationFailed(
                f"items[{index}]",
                "duplicate_in_import",
                f"item {index} identifies the same CI as item {clash} of this import",
            )
            continue
        for k in prepared.keys:
            claimed[k] = index
        if item.key is not None:
            keys_seen[item.key] = index
        candidates.append(prepared)

    existing = ci_cypher.by_identity(uow.tx, sorted(claimed))
    to_create: list[_Candidate] = []
    updates: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    identity_rows: list[dict[str, Any]] = []
    for cand in candidates:
        matches = {existing[k]["id"]: existing[k] for k in cand.keys if k in existing}
        if len(matches) > 1:
            names = ", ".join(sorted(m["name"] for m in matches.values()))
            cand.result.error = ValidationFailed(
                f"items[{cand.result.index}]",
                "ambiguous",
                f"the item's identification matches several CIs: {names}",
            )
            continue
        if not matches:
            to_create.append(cand)
            continue
        current = next(iter(matches.values()))
        if current["ciClass"] != cand.cls.name:
            cand.result.error = ValidationFailed(
                f"items[{cand.result.index}].ciClass",
                "class_mismatch",
                f"identifies {current['name']!r}, which is a {current['ciClass']}",
            )
            continue
        if (
            current.get("lifecycle") == cmdb.Lifecycle.RETIRED.value
            and "lifecycle" not in cand.props
        ):
            cand.props["lifecycle"] = cmdb.Lifecycle.RETIRED.value
        before, after, skipped = _diff(cand.cls, current, cand.props, source)
        try:
            _clear(cand, current, source, before, after)
        except ValidationFailed as error:
            cand.result.error = error
            continue
        cand.result.ci_id = current["id"]
        cand.result.skipped = skipped
        if after:
            cand.result.outcome = Outcome.UPDATED
            cand.result.changed = sorted(cmdb.field_name(k) for k in after)
            after.update(_provenance(after, source))
            updates.append((current["id"], before, after))
            merged = {**current, **after}
            new_keys = cmdb.identity_keys(cand.cls, merged)
            if new_keys != cmdb.identity_keys(cand.cls, current):
                identity_rows.append({"id": current["id"], "keys": new_keys})
        else:
            cand.result.outcome = Outcome.UNCHANGED

    rows = []
    for cand in to_create:
        cand.props.setdefault("lifecycle", cmdb.Lifecycle.LIVE.value)
        cand.props.setdefault("criticality", cmdb.Criticality.MEDIUM.value)
        cand.props.update(_provenance(cand.props, source))
        rows.append(cand.props)
    created = uow.create_many("CI", rows, extra_label_key="ciClass")
    for cand, props in zip(to_create, created, strict=True):
        cand.result.outcome = Outcome.CREATED
        cand.result.ci_id = props["id"]
        identity_rows.append({"id": props["id"], "keys": cand.keys})
    uow.update_many("CI", updates)
    if identity_rows:
        ci_cypher.set_identities(uow.tx, identity_rows)

    by_key = {r.key: r.ci_id for r in results if r.key is not None and r.ci_id is not None}
    linked_targets: set[str] = set()
    touched = {r.ci_id for r in results if r.outcome is Outcome.CREATED and r.ci_id}
    rel_results = _relationships(uow, source, relationships, by_key, linked_targets, touched)
    if not dry_run and touched:
        uow.publish(BLAST_RADIUS_ACTOR + "_many", sorted(touched))
    if not dry_run and linked_targets:
        # New dependants raise the blast radius of each target and of all it depends on.
        uow.publish(BLAST_RADIUS_ACTOR + "_upstream", sorted(linked_targets))
        uow.publish(RECOUNT_CONFLICTS, sorted(linked_targets))
    return ImportResult(dry_run, results, rel_results)


def _provenance(changed: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Remember which source last wrote each field: `src_<field>`."""
    prefix = cmdb.SOURCE_PREFIX
    return {prefix + cmdb.field_name(k): source for k in changed if not k.startswith(prefix)}


def _clear(
    cand: _Candidate,
    current: Mapping[str, Any],
    source: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Add the item's clears to the change: a null in `after` removes the property."""
    for prop, n in sorted(cand.cleared.items()):
        if current.get(prop) is None:
            continue
        name = cmdb.field_name(prop)
        owner = cand.cls.authoritative.get(name)
        if owner is not None and owner != source:
            raise ValidationFailed(
                f"items[{cand.result.index}].clear[{n}]",
                "owned_by_another_source",
                f"{name!r} is owned by {owner!r}; only that source may clear it",
            )
        before[prop] = current[prop]
        after[prop] = None


def _diff(
    cls: cmdb.CIClass, current: Mapping[str, Any], incoming: Mapping[str, Any], source: str
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    skipped: list[str] = []
    for prop, value in incoming.items():
        if prop == "ciClass" or current.get(prop) == value:
            continue
        name = cmdb.field_name(prop)
        owner = cls.authoritative.get(name)
        if owner is not None and owner != source and current.get(prop) is not None:
            skipped.append(name)
            continue
        before[prop] = current.get(prop)
        after[prop] = value
    return before, after, sorted(skipped)


def _relationships(
    uow: UnitOfWork,
    source: str,
    relationships: Sequence[ImportRelationship],
    by_key: Mapping[str, str | None],
    linked_targets: set[str],
    created: set[str],
) -> list[RelationshipResult]:
    results = [RelationshipResult(i) for i in range(len(relationships))]
    resolved: list[tuple[int, str, str, cmdb.RelationshipType, dict[str, Any]]] = []
    ids: set[str] = set()
    for i, rel in enumerate(relationships):
        where = f"relationships[{i}]"
        try:
            rtype = cmdb.relationship_type(rel.type, field_name=f"{where}.type")
            source_id = _endpoint(rel.source_key, rel.source_id, by_key, f"{where}.source")
            target_id = _endpoint(rel.target_key, rel.target_id, by_key, f"{where}.target")
            attrs = cmdb.relationship_attributes(rel.attributes, f"{where}.attributes")
        except ValidationFailed as error:
            results[i].error = error
            continue
        resolved.append((i, source_id, target_id, rtype, attrs))
        ids.update((source_id, target_id))
    found = ci_cypher.summaries(uow.tx, sorted(ids))
    to_create: dict[str, list[dict[str, Any]]] = {}
    pending: set[tuple[str, str, str]] = set()
    for i, source_id, target_id, rtype, attrs in resolved:
        where = f"relationships[{i}]"
        if source_id not in found or target_id not in found:
            missing = source_id if source_id not in found else target_id
            results[i].error = ValidationFailed(where, "unknown_ci", f"no CI with id {missing!r}")
            continue
        try:
            cmdb.check_relationship(rtype, found[source_id], found[target_id])
        except ValidationFailed as error:
            results[i].error = ValidationFailed(
                f"{where}.{error.field}", error.reason, error.message
            )
            continue
        triple = (source_id, rtype.name, target_id)
        if triple in pending:
            results[i].error = ValidationFailed(
                where, "duplicate_in_import", "the same relationship appears twice in this import"
            )
            continue
        pending.add(triple)
        to_create.setdefault(rtype.name, []).append(
            {"index": i, "s": source_id, "t": target_id, "props": attrs}
        )
    # One audit entry per source CI and action, listing its relationships: a discovery run that
    # adds forty links to a host says so once in that host's history, not forty times.
    related: dict[str, list[dict[str, Any]]] = {}
    changed_before: dict[str, list[dict[str, Any]]] = {}
    changed_after: dict[str, list[dict[str, Any]]] = {}
    for rel_type, rows in to_create.items():
        # Two CIs created by this very call cannot be related yet: nothing to look up.
        existing = ci_cypher.existing_relationships(
            uow.tx, rel_type, [r for r in rows if r["s"] not in created or r["t"] not in created]
        )
        new_rows, changed_rows, seen_rows = [], [], []
        for row in rows:
            old = existing.get(row["index"])
            if old is None:
                linked_targets.add(row["t"])
                new_rows.append({"s": row["s"], "t": row["t"], "props": row["props"]})
                results[row["index"]].outcome = Outcome.CREATED
                related.setdefault(row["s"], []).append(
                    {"type": rel_type, "targetId": row["t"], **row["props"]}
                )
                continue
            delta = {k: v for k, v in row["props"].items() if old.get(k) != v}
            if delta:
                changed_rows.append({"s": row["s"], "t": row["t"], "props": delta})
                results[row["index"]].outcome = Outcome.UPDATED
                key = {"type": rel_type, "targetId": row["t"]}
                changed_before.setdefault(row["s"], []).append(
                    {**key, **{k: old.get(k) for k in delta}}
                )
                changed_after.setdefault(row["s"], []).append({**key, **delta})
            else:
                seen_rows.append({"s": row["s"], "t": row["t"], "props": {}})
                results[row["index"]].outcome = Outcome.UNCHANGED
        uow.link_many(
            "CI",
            rel_type,
            "CI",
            new_rows,
            common={"source": source, "firstSeen": uow.at, "lastSeen": uow.at},
        )
        ci_cypher.update_relationships(uow, rel_type, changed_rows + seen_rows)
    uow.audit_many(
        [("relate", "CI", s, None, {"relationships": rels}) for s, rels in related.items()]
        + [
            (
                "update_relationships",
                "CI",
                s,
                {"relationships": changed_before[s]},
                {"relationships": changed_after[s]},
            )
            for s in changed_after
        ]
    )
    return results


def _endpoint(
    key: str | None, ci_id: str | None, by_key: Mapping[str, str | None], where: str
) -> str:
    if (key is None) == (ci_id is None):
        raise ValidationFailed(
            where, "one_endpoint", "give exactly one of a key from this import or an existing id"
        )
    if ci_id is not None:
        return ci_id
    resolved = by_key.get(key or "")
    if resolved is None:
        raise ValidationFailed(
            f"{where}Key", "unknown_key", f"no accepted item with key {key!r} in this import"
        )
    return resolved
