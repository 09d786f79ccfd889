"""The record kernel against the real Neo4j: declarations become constraints, indexes and checked
input; generic pages walk both ways through ties; links are checked against the one registry;
state machines refuse what they do not allow and keep the time of every step.

A record type of the tests' own (`tests/kernel_ticket.py`) is declared as a process would declare
its records.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from core.access import SYSTEM, Actor, Role
from core.errors import Forbidden, ValidationFailed, VersionConflict
from core.records import LinkField, Prop, RecordType, check_properties
from core.states import GuardRefused, InvalidTransition
from graphdb import records
from graphdb.migrations import migrate
from graphdb.write_path import Store, UnitOfWork
from tests.kernel_ticket import TICKET

AGENT = Actor("agent-1", "agent one", Role.AGENT)
MANAGER = Actor("manager-1", "manager one", Role.MANAGER)


@pytest.fixture
def kstore(store: Store) -> Store:
    migrate(store.graph)  # the declared statements also cover the type declared above
    return store


def _create(store: Store, actor: Actor, **values: Any) -> dict[str, Any]:
    props = check_properties(TICKET, values, creating=True)
    return store.write(actor, lambda uow: uow.create("KernelTicket", props))


def _count(store: Store, label: str) -> int:
    return int(
        store.read(
            lambda tx: tx.run(f"MATCH (n:{label}) RETURN count(n) AS c").single(strict=True)["c"]
        )
    )


def test_declaration_becomes_constraints_and_indexes(kstore: Store) -> None:
    def schema(tx: Any) -> tuple[set[str], set[str]]:
        constraints = {r["name"] for r in tx.run("SHOW CONSTRAINTS YIELD name")}
        indexes = {r["name"] for r in tx.run("SHOW INDEXES YIELD name")}
        return constraints, indexes

    constraints, indexes = kstore.read(schema)
    assert {"kernelticket_id", "kernelticket_number"} <= constraints
    assert {"kernelticket_urgency", "kernelticket_rank", "kernelticket_text"} <= indexes
    # CIs keep the indexes their list queries rely on.
    assert {"ci_name", "ci_lifecycle", "ci_text", "database_name", "laptop_name"} <= indexes

    ticket = _create(kstore, AGENT, title="disk full")
    assert ticket["number"].startswith("KT") and len(ticket["number"]) == 9
    with pytest.raises(Exception, match="already exists"):
        kstore.write(
            AGENT,
            lambda uow: uow.create(
                "KernelTicket", {"title": "x", "number": ticket["number"], "state": "new"}
            ),
        )
    assert _count(kstore, "KernelTicket") == 1


def test_input_is_checked_against_the_declaration(kstore: Store) -> None:
    made = _create(kstore, AGENT, title="  printer jam  ")
    assert made["title"] == "printer jam"
    assert made["urgency"] == "low"  # the declared default
    assert made["state"] == "new"  # the machine's initial state

    cases: list[tuple[dict[str, Any], str, str]] = [
        ({}, "title", "required"),
        ({"title": "   "}, "title", "required"),
        ({"title": "a", "urgency": "urgent"}, "urgency", "unknown_urgency"),
        ({"title": "a", "rank": "3"}, "rank", "not_an_integer"),
        ({"title": "a", "body": "x" * 501}, "body", "too_long"),
        ({"title": "a", "colour": "red"}, "colour", "unknown_property"),
        ({"title": "a", "state": "closed"}, "state", "state_by_transition"),
    ]
    for values, field, reason in cases:
        with pytest.raises(ValidationFailed) as refused:
            check_properties(TICKET, values, creating=True, prefix="input.")
        assert (refused.value.field, refused.value.reason) == (f"input.{field}", reason), values
    with pytest.raises(ValidationFailed) as refused:
        check_properties(TICKET, {"title": None}, creating=False)
    assert refused.value.reason == "required"
    assert check_properties(TICKET, {"rank": 4}, creating=False) == {"rank": 4}
    assert _count(kstore, "KernelTicket") == 1


def _walk(store: Store, query: records.PageQuery, size: int, backward: bool) -> list[str]:
    """Every record, a page at a time, following cursors forwards or backwards."""
    seen: list[str] = []
    cursor: tuple[Any, str] | None = None
    while True:
        q = records.PageQuery(
            order=query.order,
            descending=query.descending,
            filters=query.filters,
            text=query.text,
            after=None if backward else cursor,
            before=cursor if backward else None,
            backward=backward,
            limit=size,
        )
        rows, _ = store.read(lambda tx, q=q: records.page(tx, TICKET, q))
        if not rows:
            return seen
        ids = [r["id"] for r, _ in rows]
        seen = ids + seen if backward else seen + ids
        edge = rows[0] if backward else rows[-1]
        cursor = (edge[1], edge[0]["id"])


def test_pages_walk_both_ways_through_ties(kstore: Store) -> None:
    ranks = [3, 1, 2, 3, 3, 1, 2, 3]
    made = [
        _create(kstore, AGENT, title=f"ticket {i}", rank=r, urgency="high" if i % 2 else "low")
        for i, r in enumerate(ranks)
    ]
    # Equal creation times are likely inside one fast run; make some certain.
    kstore.write(
        SYSTEM,
        lambda uow: uow.tx.run(
            "MATCH (n:KernelTicket) WHERE n.rank = 3 SET n.createdAt = $at",
            at=uow.at - timedelta(days=1),
        ).consume(),
    )
    by_rank = [t["id"] for t in sorted(made, key=lambda t: (t["rank"], t["id"]))]
    for size in (1, 3, 5):
        q = records.PageQuery(order="rank")
        assert _walk(kstore, q, size, backward=False) == by_rank
        assert _walk(kstore, q, size, backward=True) == by_rank
        down = records.PageQuery(order="rank", descending=True)
        assert _walk(kstore, down, size, backward=False) == by_rank[::-1]
        assert _walk(kstore, down, size, backward=True) == by_rank[::-1]
        by_time = records.PageQuery(order="createdAt")
        forwards = _walk(kstore, by_time, size, backward=False)
        assert sorted(forwards) == sorted(by_rank) and len(set(forwards)) == len(made)
        assert _walk(kstore, by_time, size, backward=True) == forwards

    high = records.PageQuery(order="rank", filters={"urgency": "high"}, limit=50)
    rows, total = kstore.read(lambda tx: records.page(tx, TICKET, high))
    assert total == 4 and [r["urgency"] for r, _ in rows] == ["high"] * 4
    text = records.PageQuery(order="rank", text="ticket", filters={"rank": [1, 2]}, limit=2)
    rows, total = kstore.read(lambda tx: records.page(tx, TICKET, text))
    assert total == 4 and [r["rank"] for r, _ in rows] == [1, 1]

    one = made[0]
    assert kstore.read(lambda tx: records.by_number(tx, TICKET, one["number"]))["id"] == one["id"]
    assert set(kstore.read(lambda tx: records.by_ids(tx, TICKET, [one["id"], "nope"]))) == {
        one["id"]
    }


def _ci(store: Store) -> dict[str, Any]:
    return store.write(
        SYSTEM,
        lambda uow: uow.create(
            "CI",
            {"name": "db", "ciClass": "Database", "lifecycle": "live"},
            extra_labels=("Database",),
        ),
    )


def _links(store: Store, rel_type: str) -> int:
    return int(
        store.read(
            lambda tx: tx.run(
                "MATCH ()-[r]->() WHERE type(r) = $t RETURN count(r) AS c", t=rel_type
            ).single(strict=True)["c"]
        )
    )


def test_links_are_checked_against_the_registry(kstore: Store) -> None:
    ticket = _create(kstore, AGENT, title="slow")
    ci = _ci(kstore)

    def link(rel_type: str, from_label: str = "KernelTicket", to_label: str = "CI") -> Any:
        def work(uow: UnitOfWork) -> Any:
            uow.update("KernelTicket", ticket["id"], {"rank": 9}, expected_version=None)
            return uow.link(from_label, ticket["id"], rel_type, to_label, ci["id"])

        return kstore.write(AGENT, work)

    with pytest.raises(ValidationFailed) as refused:
        link("WOBBLES")
    assert refused.value.reason == "unknown_relationship_type"
    with pytest.raises(ValidationFailed) as refused:
        link("AFFECTS")  # an Incident's link, not this record's
    assert refused.value.reason == "link_not_allowed"
    assert "Incident" in refused.value.message
    # Refused links leave nothing behind, not even the other writes of their transaction.
    assert _links(kstore, "AFFECTS") == 0
    assert (
        kstore.read(lambda tx: records.by_ids(tx, TICKET, [ticket["id"]]))[ticket["id"]].get("rank")
        is None
    )

    link("CONCERNS")
    assert _links(kstore, "CONCERNS") == 1

    # The labels the nodes have count, not the label the caller matched them by: a catalogue
    # entry describes a Service, and a Database matched as a CI is not one.
    def describe(ci_id: str) -> Any:
        def work(uow: UnitOfWork) -> Any:
            entry = uow.create("CatalogEntry", {"name": "shop"})
            return uow.link("CatalogEntry", entry["id"], "DESCRIBES", "CI", ci_id)

        return kstore.write(AGENT, work)

    with pytest.raises(ValidationFailed) as refused:
        describe(ci["id"])
    assert refused.value.reason == "link_not_allowed" and "Database" in refused.value.message
    assert _count(kstore, "CatalogEntry") == 0
    service = kstore.write(
        SYSTEM,
        lambda uow: uow.create(
            "CI", {"name": "shop", "ciClass": "Service"}, extra_labels=("Service",)
        ),
    )
    describe(service["id"])
    assert _links(kstore, "DESCRIBES") == 1

    # Many at once: one refused row refuses the batch.
    rows = [{"s": ticket["id"], "t": c, "props": {"note": "bulk"}} for c in (ci["id"], "gone")]
    with pytest.raises(ValidationFailed) as refused:
        kstore.write(AGENT, lambda uow: uow.link_many("KernelTicket", "CONCERNS", "CI", rows))
    assert "1 of 2" in refused.value.message
    with pytest.raises(ValidationFailed):
        kstore.write(AGENT, lambda uow: uow.link_many("KernelTicket", "AFFECTS", "CI", rows[:1]))
    assert _links(kstore, "CONCERNS") == 1
    kstore.write(
        AGENT,
        lambda uow: uow.link_many(
            "KernelTicket", "CONCERNS", "CI", [rows[0]] * 2, common={"source": "test"}
        ),
    )
    assert _links(kstore, "CONCERNS") == 3

    def unlink(uow: UnitOfWork) -> int:
        return uow.unlink("KernelTicket", ticket["id"], "CONCERNS", "CI", ci["id"])

    assert kstore.write(AGENT, unlink) == 3
    assert kstore.write(AGENT, unlink) == 0
    assert _links(kstore, "CONCERNS") == 0
    actions = kstore.read(
        lambda tx: [
            (r["action"], r["actor"])
            for r in tx.run(
                "MATCH (a:AuditEntry {recordId: $id}) RETURN a.action AS action, a.actor AS actor "
                "ORDER BY a.at",
                id=ticket["id"],
            )
        ]
    )
    assert ("relate", "agent one") in actions and ("unrelate", "agent one") in actions


def _step(
    store: Store,
    actor: Actor,
    ticket_id: str,
    target: str,
    version: int | None = None,
    **changes: Any,
) -> dict[str, Any]:
    return store.write(
        actor,
        lambda uow: uow.transition(
            "KernelTicket", ticket_id, target, expected_version=version, changes=changes
        ),
    )


def test_state_machine_refuses_and_audits(kstore: Store) -> None:
    ticket = _create(kstore, AGENT, title="vpn down")
    tid = ticket["id"]

    with pytest.raises(InvalidTransition) as refused:
        _step(kstore, AGENT, tid, "resolved")
    assert refused.value.extensions["current"] == "new"
    assert refused.value.extensions["allowed"] == ["open"]
    assert refused.value.field == "state"

    opened = _step(kstore, AGENT, tid, "open", version=1)
    assert opened["state"] == "open" and opened["version"] == 2
    with pytest.raises(VersionConflict):
        _step(kstore, AGENT, tid, "on_hold", version=1)
    _step(kstore, AGENT, tid, "on_hold")
    with pytest.raises(GuardRefused) as guarded:
        _step(kstore, AGENT, tid, "resolved", resolution="  ")
    assert (guarded.value.field, guarded.value.extensions["guard"]) == (
        "resolution",
        "kernel_ticket_resolution",
    )
    resolved = _step(kstore, AGENT, tid, "resolved", resolution="rebooted the concentrator")
    assert resolved["resolution"] == "rebooted the concentrator"
    with pytest.raises(Forbidden):
        _step(kstore, AGENT, tid, "closed")  # closing is a manager's
    _step(kstore, MANAGER, tid, "closed")
    with pytest.raises(InvalidTransition) as final:
        _step(kstore, MANAGER, tid, "open")
    assert final.value.extensions["allowed"] == []

    history = kstore.read(lambda tx: records.transitions(tx, TICKET, tid))
    assert [(h["transition"], h["from"], h["to"]) for h in history] == [
        (None, None, "new"),
        ("start", "new", "open"),
        ("hold", "open", "on_hold"),
        ("resolve", "on_hold", "resolved"),
        ("close", "resolved", "closed"),
    ]
    times = [h["at"] for h in history]
    assert times == sorted(times)
    assert history[-1]["actor"] == "manager one"
    final_record = kstore.read(lambda tx: records.by_ids(tx, TICKET, [tid]))[tid]
    assert final_record["state"] == "closed" and final_record["version"] == 5
    # The time of the last step is on the record, as epoch milliseconds like every read time.
    assert final_record["stateChangedAt"] == int(times[-1].timestamp() * 1000)


def test_link_fields_are_checked_against_the_registry_when_declared() -> None:
    for fields, wrong in [
        ((LinkField("cis", "NO_SUCH_LINK", "CI"),), "not a registered link"),
        ((LinkField("cis", "COVERS", "Service"),), "does not join"),
        (
            (LinkField("cis", "CONCERNS", "CI"), LinkField("more", "CONCERNS", "CI")),
            "not the only one",
        ),
        ((LinkField("title", "CONCERNS", "CI"),), "not a usable link field name"),
    ]:
        with pytest.raises(ValueError, match=wrong):
            RecordType(
                "KernelTicket",
                properties=(Prop("title"),),
                link_fields=fields,
            )


def test_a_property_given_by_transition_is_refused_elsewhere() -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_properties(TICKET, {"resolution": "rebooted"}, creating=False)
    assert (refused.value.field, refused.value.reason) == ("resolution", "by_transition")
    assert check_properties(TICKET, {"resolution": "rebooted"}, creating=False, step=True) == {
        "resolution": "rebooted"
    }
