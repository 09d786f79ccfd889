"""Root cause through the CI graph: symptoms linked to the alert upstream that explains them (by
the CMDB's propagation and redundancy rules), a late root adopting its symptoms and closing the
incidents they opened, symptoms judged again once their root is over."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.events import EventAction
from graphdb.write_path import Store
from tests.test_alerts import T0, alerts, estate, event, process, read, set_policy


@pytest.fixture
def shop(store: Store) -> dict[str, str]:
    """A shop app on a redundant pair of VMs, needing a database on one VM."""
    set_policy(store, correlationWindowSeconds=0, severityActions=["error=incident"])
    return estate(
        store,
        [
            ("shop", "Service"),
            ("app", "Application"),
            ("db", "Database"),
            ("vm1", "VirtualMachine"),
            ("vm2", "VirtualMachine"),
            ("vm3", "VirtualMachine"),
        ],
        [
            ("shop", "DEPENDS_ON", "app", {}),
            ("app", "RUNS_ON", "vm1", {"redundancyGroup": "web", "minUp": 1}),
            ("app", "RUNS_ON", "vm2", {"redundancyGroup": "web", "minUp": 1}),
            ("app", "DEPENDS_ON", "db", {}),
            ("db", "RUNS_ON", "vm3", {}),
        ],
    )


def by_key(store: Store) -> dict[str, dict[str, object]]:
    return {str(a["key"]): a for a in alerts(store)}


def test_an_alert_below_an_alerting_database_is_its_symptom_and_acts_on_nothing(
    store: Store, shop: dict[str, str]
) -> None:
    process(store, [event("vm3", ci=shop["vm3"])])
    process(store, [event("app", ci=shop["app"], at=T0 + timedelta(seconds=5))])
    found = by_key(store)
    assert found["vm3"]["role"] == "root" and found["app"]["role"] == "symptom"
    reason = str(found["app"]["correlationReason"])
    assert reason.startswith(f"symptom of {found['vm3']['number']}") and "db" in reason
    links = read(
        store, "MATCH (s:Alert)-[:SYMPTOM_OF]->(r:Alert) RETURN s.dedupKey AS s, r.dedupKey AS r"
    )
    assert links == [{"s": "app", "r": "vm3"}]
    raised = read(store, "MATCH (a:Alert)-[:RAISED]->(:Incident) RETURN a.dedupKey AS k")
    assert raised == [{"k": "vm3"}]


def test_one_cluster_member_down_is_not_the_root_cause_of_the_app(
    store: Store, shop: dict[str, str]
) -> None:
    process(store, [event("vm1", ci=shop["vm1"])])
    process(store, [event("app", ci=shop["app"], at=T0 + timedelta(seconds=5))])
    found = by_key(store)
    assert found["app"]["role"] == "root" and found["vm1"]["role"] == "root"
    assert len(read(store, "MATCH (a:Alert)-[:RAISED]->(:Incident) RETURN a.id AS a")) == 2


def test_a_root_arriving_after_its_symptoms_adopts_them_and_closes_their_incidents(
    store: Store, shop: dict[str, str]
) -> None:
    process(store, [event("shop", ci=shop["shop"])])
    process(store, [event("app", ci=shop["app"], at=T0 + timedelta(seconds=1))])
    assert by_key(store)["shop"]["role"] == "symptom"  # the app explains the shop already
    process(store, [event("vm3", ci=shop["vm3"], at=T0 + timedelta(seconds=2))])
    found = by_key(store)
    assert [found[k]["role"] for k in ("shop", "app", "vm3")] == ["symptom", "symptom", "root"]
    links = read(
        store,
        "MATCH (s:Alert)-[:SYMPTOM_OF]->(r:Alert) RETURN s.dedupKey AS s, r.dedupKey AS r "
        "ORDER BY s",
    )
    assert links == [{"s": "app", "r": "vm3"}, {"s": "shop", "r": "vm3"}]
    incidents = read(
        store,
        "MATCH (a:Alert)-[:RAISED]->(i:Incident) RETURN a.dedupKey AS k, i.state AS state, "
        "  i.resolutionCode AS code, i.resolutionNotes AS notes ORDER BY k",
    )
    # The shop's incident, opened before the app explained it, closed when the app acted;
    # the app's when the database's VM did.
    assert [(i["k"], i["state"]) for i in incidents] == [
        ("app", "closed"),
        ("shop", "closed"),
        ("vm3", "new"),
    ]
    assert incidents[0]["code"] == "duplicate"
    assert found["vm3"]["number"] in incidents[0]["notes"]


def test_a_symptom_whose_root_resolved_is_judged_again_on_its_next_event(
    store: Store, shop: dict[str, str]
) -> None:
    process(store, [event("vm3", ci=shop["vm3"])])
    process(store, [event("app", ci=shop["app"], at=T0 + timedelta(seconds=1))])
    process(store, [event("vm3", EventAction.RESOLVE, at=T0 + timedelta(seconds=2))])
    assert by_key(store)["app"]["role"] == "symptom"
    process(store, [event("app", ci=shop["app"], at=T0 + timedelta(seconds=3))])
    found = by_key(store)
    assert found["app"]["role"] == "root" and found["app"]["count"] == 2
    raised = read(store, "MATCH (a:Alert)-[:RAISED]->(:Incident) RETURN a.dedupKey AS k ORDER BY k")
    assert raised == [{"k": "app"}, {"k": "vm3"}]
