"""Configuration Management operations: register, change, relate and retire CIs."""

from __future__ import annotations

from typing import Any

from core.access import SYSTEM, Actor, Permission
from core.errors import NotFound, ValidationFailed
from domain import cmdb
from domain.changes.lifecycle import RECOUNT_CONFLICTS
from graphdb.cypher import ci as ci_cypher
from graphdb.outbox import message_name
from graphdb.write_path import Store, UnitOfWork

# Workers recompute a CI's blast radius after anything that may change it.
BLAST_RADIUS_ACTOR = message_name("refresh_blast_radius")
BLAST_RADIUS_MANY = message_name(BLAST_RADIUS_ACTOR + "_many")
BLAST_RADIUS_UPSTREAM = message_name(BLAST_RADIUS_ACTOR + "_upstream")


def register_ci(store: Store, actor: Actor, new: cmdb.NewCI) -> dict[str, Any]:
    actor.require(Permission.WRITE_CMDB)
    props = cmdb.ci_properties(new)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        cls = cmdb.ci_class(props["ciClass"])
        keys = cmdb.identity_keys(cls, props)
        _check_identity_free(uow, keys, None)
        created = uow.create("CI", props, extra_labels=(cls.name,))
        ci_cypher.set_identities(uow.tx, [{"id": created["id"], "keys": keys}])
        uow.publish(BLAST_RADIUS_ACTOR, created["id"])
        return created

    return store.write(actor, work)


def change_ci(
    store: Store, actor: Actor, ci_id: str, version: int, changes: cmdb.CIChanges
) -> dict[str, Any]:
    actor.require(Permission.WRITE_CMDB)

    def work(uow: UnitOfWork) -> dict[str, Any]:
        current = uow.lock("CI", ci_id)
        if current["lifecycle"] == cmdb.Lifecycle.RETIRED.value and changes.lifecycle is None:
            raise ValidationFailed(
                "id", "retired", "a retired CI cannot change; set its lifecycle to bring it back"
            )
        props, remove = cmdb.ci_changes(current["ciClass"], changes)
        updated = uow.update("CI", ci_id, props, expected_version=version, remove=remove)
        cls = cmdb.ci_class(current["ciClass"])
        keys = cmdb.identity_keys(cls, updated)
        if keys != cmdb.identity_keys(cls, current):
            _check_identity_free(uow, keys, ci_id)
            ci_cypher.set_identities(uow.tx, [{"id": ci_id, "keys": keys}])
        return updated

    return store.write(actor, work)


def retire_ci(store: Store, actor: Actor, ci_id: str, version: int) -> dict[str, Any]:
    """Retire a CI: it stays, with its history and links, but gains no new relationships."""
    return change_ci(
        store, actor, ci_id, version, cmdb.CIChanges(lifecycle=cmdb.Lifecycle.RETIRED.value)
    )


def _check_identity_free(uow: UnitOfWork, keys: list[str], own_id: str | None) -> None:
    for key, other in ci_cypher.by_identity(uow.tx, keys).items():
        if other["id"] != own_id:
            rule = key.split("|", 1)[1]
            raise ValidationFailed(
                rule.split("=", 1)[0],
                "duplicate",
                f"{other['ciClass']} {other['name']!r} ({other.get('number')}) already has "
                f"{rule.replace('&', ', ')}",
                existingId=other["id"],
            )


def relate_cis(
    store: Store,
    actor: Actor,
    source_id: str,
    rel_type: str,
    target_id: str,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    actor.require(Permission.WRITE_CMDB)
    rel = cmdb.relationship_type(rel_type)
    checked = cmdb.relationship_attributes(attributes or {})

    def work(uow: UnitOfWork) -> dict[str, Any]:
        found = ci_cypher.by_ids(uow.tx, [source_id, target_id])
        if source_id not in found:
            raise NotFound("CI", source_id, field="sourceId")
        if target_id not in found:
            raise NotFound("CI", target_id, field="targetId")
        source, target = found[source_id], found[target_id]
        cmdb.check_relationship(rel, source, target)
        # Lock the source so two imports cannot both add the same relationship.
        uow.lock("CI", source_id)
        pair = [{"index": 0, "s": source_id, "t": target_id}]
        if ci_cypher.existing_relationships(uow.tx, rel.name, pair):
            raise ValidationFailed(
                "type",
                "duplicate",
                f"{source['name']} already {rel.name} {target['name']}",
            )
        props = uow.link(
            "CI",
            source_id,
            rel.name,
            "CI",
            target_id,
            {**checked, "source": actor.name, "firstSeen": uow.at, "lastSeen": uow.at},
        )
        uow.publish(BLAST_RADIUS_ACTOR + "_upstream", [target_id])
        uow.publish(RECOUNT_CONFLICTS, [source_id, target_id])
        return {"source": source, "type": rel.name, "target": target, "props": props}

    return store.write(actor, work)


def unrelate_cis(store: Store, actor: Actor, source_id: str, rel_type: str, target_id: str) -> bool:
    actor.require(Permission.WRITE_CMDB)
    rel = cmdb.relationship_type(rel_type)

    def work(uow: UnitOfWork) -> bool:
        uow.lock("CI", source_id)
        if not uow.unlink("CI", source_id, rel.name, "CI", target_id):
            raise ValidationFailed(
                "type", "no_such_relationship", f"no {rel.name} from {source_id} to {target_id}"
            )
        uow.publish(BLAST_RADIUS_ACTOR + "_upstream", [target_id])
        uow.publish(RECOUNT_CONFLICTS, [source_id, target_id])
        return True

    return store.write(actor, work)


ALL_CI_RELATIONSHIP_TYPES = tuple(cmdb.RELATIONSHIP_TYPES)

# Relationship types along which a failure of a CI reaches the CIs that point at it.
DEPENDENCY_TYPES = tuple(
    name
    for name, rel in cmdb.RELATIONSHIP_TYPES.items()
    if rel.propagation in (cmdb.Propagation.TO_SOURCE, cmdb.Propagation.BOTH)
)
BLAST_RADIUS_DEPTH = 6


BLAST_RADIUS_BATCH = 500


def refresh_blast_radius(store: Store, ci_id: str) -> int | None:
    """Count the CIs that depend on this one; change risk and impact views read it."""
    return refresh_blast_radius_many(store, [ci_id]).get(ci_id)


def refresh_blast_radius_upstream(store: Store, ci_ids: list[str]) -> dict[str, int]:
    """New dependants of a CI also count for everything it needs: refresh that whole chain."""
    chain = store.read(
        lambda tx: ci_cypher.providers_within(tx, ci_ids, DEPENDENCY_TYPES, BLAST_RADIUS_DEPTH)
    )
    return refresh_blast_radius_many(store, sorted(set(chain) | set(ci_ids)))


def refresh_blast_radius_many(store: Store, ci_ids: list[str]) -> dict[str, int]:
    """The same for many CIs, a batch per transaction; ids of CIs gone since are skipped."""
    counts: dict[str, int] = {}
    for start in range(0, len(ci_ids), BLAST_RADIUS_BATCH):
        batch = ci_ids[start : start + BLAST_RADIUS_BATCH]

        def work(uow: UnitOfWork, batch: list[str] = batch) -> dict[str, int]:
            return ci_cypher.refresh_blast_radius(
                uow.tx, batch, DEPENDENCY_TYPES, BLAST_RADIUS_DEPTH, uow.at
            )

        counts.update(store.write(SYSTEM, work))
    return counts
