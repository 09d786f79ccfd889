"""Schema migrations: constraints and indexes, applied in order and recorded in the graph.

Each migration has a version; applied ones are stored as `(:SchemaMigration {version})`, so running
them again does nothing. Every statement is also written to be idempotent (`IF NOT EXISTS`), which
covers a run that stopped halfway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from neo4j import ManagedTransaction

from core.record_types import RECORD_TYPES
from core.records import LABEL_INDEXES
from graphdb.driver import Graph
from graphdb.write_path import ident, now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[], list[str]]


def _unique_ids() -> list[str]:
    # Record ids and numbers come from the declarations (`declared_statements`).
    out = []
    out.append(
        "CREATE CONSTRAINT apitoken_digest IF NOT EXISTS "
        "FOR (n:ApiToken) REQUIRE n.digest IS UNIQUE"
    )
    out.append(
        "CREATE CONSTRAINT numbersequence_prefix IF NOT EXISTS "
        "FOR (n:NumberSequence) REQUIRE n.prefix IS UNIQUE"
    )
    out.append(
        "CREATE CONSTRAINT schemamigration_version IF NOT EXISTS "
        "FOR (n:SchemaMigration) REQUIRE n.version IS UNIQUE"
    )
    return out


def _lookup_indexes() -> list[str]:
    out = [
        "CREATE INDEX ci_name IF NOT EXISTS FOR (n:CI) ON (n.name)",
        "CREATE INDEX ci_class_name IF NOT EXISTS FOR (n:CI) ON (n.ciClass, n.name)",
        "CREATE INDEX ci_lifecycle IF NOT EXISTS FOR (n:CI) ON (n.lifecycle)",
        "CREATE INDEX audit_record IF NOT EXISTS FOR (n:AuditEntry) ON (n.recordId, n.at)",
        "CREATE FULLTEXT INDEX ci_text IF NOT EXISTS FOR (n:CI) ON EACH [n.name, n.description]",
    ]
    # The CI classes' name indexes come with the declarations (`LABEL_INDEXES`).
    return out


def _identities() -> list[str]:
    return [
        "CREATE CONSTRAINT ciidentity_key IF NOT EXISTS FOR (n:CIIdentity) REQUIRE n.key IS UNIQUE",
        "CREATE INDEX ci_updated IF NOT EXISTS FOR (n:CI) ON (n.updatedAt)",
        "CREATE INDEX ci_criticality IF NOT EXISTS FOR (n:CI) ON (n.criticality)",
    ]


def _creation_order() -> list[str]:
    # Lets a CI list sorted by creation time start from the index instead of sorting them all.
    return ["CREATE INDEX ci_created IF NOT EXISTS FOR (n:CI) ON (n.createdAt)"]


def _outbox_and_timers() -> list[str]:
    return [
        "CREATE CONSTRAINT outboxmessage_id IF NOT EXISTS "
        "FOR (n:OutboxMessage) REQUIRE n.id IS UNIQUE",
        # The relay sweep's query: messages whose time to (re)try has come.
        "CREATE INDEX outbox_next_attempt IF NOT EXISTS FOR (n:OutboxMessage) ON (n.nextAttemptAt)",
        "CREATE INDEX outbox_eta IF NOT EXISTS FOR (n:OutboxMessage) ON (n.etaAt)",
        "CREATE CONSTRAINT timer_id IF NOT EXISTS FOR (n:Timer) REQUIRE n.id IS UNIQUE",
        "CREATE CONSTRAINT timer_key IF NOT EXISTS FOR (n:Timer) REQUIRE n.key IS UNIQUE",
        # One index answers "what is due" for every record type: state first, then the due time.
        "CREATE INDEX timer_due IF NOT EXISTS FOR (n:Timer) ON (n.state, n.dueAt)",
        "CREATE INDEX timer_record IF NOT EXISTS FOR (n:Timer) ON (n.recordLabel, n.recordId)",
        "CREATE CONSTRAINT schedulerlease_name IF NOT EXISTS "
        "FOR (n:SchedulerLease) REQUIRE n.name IS UNIQUE",
    ]


def _alert_keys() -> list[str]:
    return [
        # One node per dedup key: its lock serialises the key's events across workers.
        "CREATE CONSTRAINT alertkey_key IF NOT EXISTS FOR (n:AlertKey) REQUIRE n.key IS UNIQUE",
        "CREATE INDEX alertkey_open IF NOT EXISTS FOR (n:AlertKey) ON (n.openAlert)",
        "CREATE CONSTRAINT correlationlock_name IF NOT EXISTS "
        "FOR (n:CorrelationLock) REQUIRE n.name IS UNIQUE",
    ]


def _threshold_states() -> list[str]:
    # Two workers evaluating one (threshold, CI) at once must MERGE the same state node.
    return [
        "CREATE CONSTRAINT thresholdstate_key IF NOT EXISTS "
        "FOR (n:ThresholdState) REQUIRE n.key IS UNIQUE",
        "CREATE INDEX thresholdstate_threshold IF NOT EXISTS "
        "FOR (n:ThresholdState) ON (n.thresholdId)",
    ]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "unique ids and numbers", _unique_ids),
    Migration(2, "lookup and full-text indexes", _lookup_indexes),
    Migration(3, "CI identification keys", _identities),
    Migration(4, "CI creation-time index", _creation_order),
    Migration(5, "outbox messages and timers", _outbox_and_timers),
    Migration(6, "alert dedup keys and the correlation lock", _alert_keys),
    Migration(7, "threshold evaluation states", _threshold_states),
)


def declared_statements() -> list[str]:
    """Constraints and indexes that the record declarations ask for, all idempotent.

    Applied at every start after the numbered migrations: a declaration that gains an indexed
    property or a new record type gets its index without a hand-written migration.
    """
    out = []
    for label, record_type in RECORD_TYPES.items():
        node = f"(n:{ident(label)})"
        low = label.lower()
        out.append(f"CREATE CONSTRAINT {low}_id IF NOT EXISTS FOR {node} REQUIRE n.id IS UNIQUE")
        if record_type.number_prefix:
            out.append(
                f"CREATE CONSTRAINT {low}_number IF NOT EXISTS "
                f"FOR {node} REQUIRE n.number IS UNIQUE"
            )
        for prop in (*record_type.indexed_properties, "createdAt", "updatedAt"):
            out.append(f"CREATE INDEX {low}_{prop.lower()} IF NOT EXISTS FOR {node} ON (n.{prop})")
        if record_type.fulltext_index:
            fields = ", ".join(f"n.{p}" for p in record_type.fulltext_properties)
            out.append(
                f"CREATE FULLTEXT INDEX {record_type.fulltext_index} IF NOT EXISTS "
                f"FOR {node} ON EACH [{fields}]"
            )
    for label, props in LABEL_INDEXES.items():
        for prop in props:
            out.append(
                f"CREATE INDEX {label.lower()}_{prop.lower()} IF NOT EXISTS "
                f"FOR (n:{ident(label)}) ON (n.{prop})"
            )
    return out


def applied_versions(graph: Graph) -> set[int]:
    def read(tx: ManagedTransaction) -> set[int]:
        return {int(r["v"]) for r in tx.run("MATCH (m:SchemaMigration) RETURN m.version AS v")}

    return graph.read(read)


def migrate(graph: Graph) -> list[Migration]:
    """Apply what is missing; returns the migrations applied by this call."""
    done = applied_versions(graph)
    applied = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.statements():
            graph.run_schema(statement)
        graph.run_schema(
            "MERGE (m:SchemaMigration {version: $version}) "
            "ON CREATE SET m.name = $name, m.appliedAt = $at",
            version=migration.version,
            name=migration.name,
            at=now(),
        )
        log.info("applied migration %s: %s", migration.version, migration.name)
        applied.append(migration)
    for statement in declared_statements():
        graph.run_schema(statement)
    return applied
