"""Change Management through the API: the state machine with approvals per change type, a
missing approval refused with nothing written, risk term by term on a multi-hop chain, and an
implementing change putting its CIs in maintenance for event management."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.access import SYSTEM
from core.ids import record_id, to_global_id
from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_alerts import alerts, estate, event, process, set_policy

T0 = datetime(2026, 12, 10, 22, 0, tzinfo=UTC)

FIELDS = """id number state changeType version risk riskScore riskExplanation
  riskTerms { term score reason } conflictCount approvedRoles implementedAt outcome
  cis { name } approvals { approvalRole decision approver comment at }"""
CREATE = (
    "mutation($input: CreateChangeInput!) { createChange(input: $input) { "
    "userErrors { code field message } change { " + FIELDS + " } } }"
)
STEP = (
    "mutation($input: TransitionChangeInput!) { transitionChange(input: $input) { "
    "userErrors { code field message } change { " + FIELDS + " } } }"
)
APPROVE = (
    "mutation($input: ChangeDecisionInput!) { approveChange(input: $input) { "
    "userErrors { code field message } change { " + FIELDS + " } } }"
)
REJECT = APPROVE.replace("approveChange", "rejectChange")


def window(hours: int = 0) -> dict[str, str]:
    return {
        "plannedStart": (T0 + timedelta(hours=hours)).isoformat(),
        "plannedEnd": (T0 + timedelta(hours=hours + 2)).isoformat(),
    }


def create(api: Api, **values: Any) -> dict[str, Any]:
    body = api.ok(CREATE, {"input": {"title": "Patch", **values}})["createChange"]
    assert body["userErrors"] == [], body
    change: dict[str, Any] = body["change"]
    return change


def step(api: Api, change: dict[str, Any], state: str, **changes: Any) -> dict[str, Any]:
    given: dict[str, Any] = {"id": change["id"], "state": state}
    if changes:
        given["changes"] = changes
    result: dict[str, Any] = api.ok(STEP, {"input": given})["transitionChange"]
    return result


def test_a_normal_change_needs_both_approvals_and_a_refusal_writes_nothing(
    api: Api, store: Store
) -> None:
    cis = estate(store, [("db", "Database")])
    manager = api.as_role(store, "manager")
    change = create(api, changeType="NORMAL", cis=[cis["db"]], **window())
    assert change["number"].startswith("CHG") and change["state"] == "DRAFT"
    change = step(api, change, "ASSESSMENT")["change"]
    change = step(api, change, "AUTHORISATION")["change"]
    before = store.read(
        lambda tx: tx.run("MATCH (n) RETURN count(n) AS n").single(strict=True)["n"]
    )
    refused = step(api, change, "SCHEDULED")
    assert refused["change"] is None
    assert refused["userErrors"][0]["code"] == "MISSING_APPROVAL"
    assert (
        refused["userErrors"][0]["field"]
        == [
            "input",
            "changes",
            "approvals",
            "change_manager",
        ]
        or "change_manager" in refused["userErrors"][0]["message"]
    )
    after = store.read(lambda tx: tx.run("MATCH (n) RETURN count(n) AS n").single(strict=True)["n"])
    assert after == before
    assert api.ok("query($id: ID!) { change(id: $id) { state version } }", {"id": change["id"]})[
        "change"
    ] == {"state": "AUTHORISATION", "version": change["version"]}

    # An agent is no change manager.
    denied = api.ok(APPROVE, {"input": {"id": change["id"], "approvalRole": "CHANGE_MANAGER"}})
    assert denied["approveChange"]["userErrors"][0]["code"] == "NOT_A_CHANGE_MANAGER"
    approved = manager.ok(
        APPROVE, {"input": {"id": change["id"], "approvalRole": "CHANGE_MANAGER", "comment": "ok"}}
    )["approveChange"]["change"]
    assert approved["approvedRoles"] == ["change_manager"]
    still = step(api, approved, "SCHEDULED")
    assert still["userErrors"][0]["code"] == "MISSING_APPROVAL"
    assert "cab" in still["userErrors"][0]["message"]
    cab = api.ok(APPROVE, {"input": {"id": change["id"], "approvalRole": "CAB"}})["approveChange"]
    assert [a["approvalRole"] for a in cab["change"]["approvals"]] == ["CHANGE_MANAGER", "CAB"]
    scheduled = step(api, cab["change"], "SCHEDULED")["change"]
    assert scheduled["state"] == "SCHEDULED"
    implementing = step(api, scheduled, "IMPLEMENTING")["change"]
    assert implementing["implementedAt"]
    no_outcome = step(api, implementing, "REVIEW")
    assert no_outcome["userErrors"][0]["field"] == ["input", "changes", "outcome"]
    review = step(api, implementing, "REVIEW", outcome="SUCCESSFUL")["change"]
    assert review["outcome"] == "SUCCESSFUL"
    assert step(api, review, "CLOSED")["change"]["state"] == "CLOSED"


def test_emergency_goes_straight_to_implementing_with_one_manager_and_standard_skips_approval(
    api: Api, store: Store
) -> None:
    cis = estate(store, [("db", "Database")])
    manager = api.as_role(store, "manager")
    urgent = create(api, changeType="EMERGENCY", cis=[cis["db"]])
    refused = step(api, urgent, "IMPLEMENTING")
    assert refused["userErrors"][0]["code"] == "MISSING_APPROVAL"
    manager.ok(APPROVE, {"input": {"id": urgent["id"], "approvalRole": "CHANGE_MANAGER"}})
    implementing = step(api, urgent, "IMPLEMENTING")["change"]
    assert implementing["state"] == "IMPLEMENTING"
    # Reviewed after, like every change: it cannot close from implementing.
    assert step(api, implementing, "CLOSED")["userErrors"][0]["code"] == "INVALID_TRANSITION"

    # A normal change may not skip to implementing.
    normal = create(api, changeType="NORMAL", cis=[cis["db"]])
    assert step(api, normal, "IMPLEMENTING")["userErrors"][0]["code"] == "NOT_SCHEDULED"

    # A standard change needs its template, and then goes from draft to scheduled.
    body = api.ok(CREATE, {"input": {"title": "Rotate logs", "changeType": "STANDARD"}})
    assert body["createChange"]["userErrors"][0]["code"] == "NEEDS_TEMPLATE"
    template = api.ok(
        'mutation { createChangeTemplate(input: {name: "Rotate logs"}) { changeTemplate { id } } }'
    )["createChangeTemplate"]["changeTemplate"]
    standard = create(
        api, changeType="STANDARD", template=template["id"], cis=[cis["db"]], **window(30)
    )
    assert step(api, standard, "ASSESSMENT")["userErrors"][0]["code"] == "STANDARD_CHANGE"
    assert step(api, standard, "SCHEDULED")["change"]["state"] == "SCHEDULED"

    # A rejection stops a normal change, and says why.
    rejected = create(api, changeType="NORMAL")
    no_reason = api.ok(REJECT, {"input": {"id": rejected["id"], "approvalRole": "CAB"}})
    assert no_reason["rejectChange"]["userErrors"][0]["field"] == ["input", "comment"]
    api.ok(REJECT, {"input": {"id": rejected["id"], "approvalRole": "CAB", "comment": "no plan"}})
    found = api.ok(
        "query($id: ID!) { change(id: $id) { approvals { decision comment approver } } }",
        {"id": rejected["id"]},
    )["change"]["approvals"]
    assert found == [{"decision": "REJECTED", "comment": "no plan", "approver": "test agent"}]


def test_risk_is_explained_term_by_term_over_a_multi_hop_chain(api: Api, store: Store) -> None:
    cis = estate(
        store,
        [("shop", "Service"), ("app", "Application"), ("vm", "VirtualMachine"), ("host", "Server")],
        [
            ("shop", "DEPENDS_ON", "app", {}),
            ("app", "RUNS_ON", "vm", {}),
            ("vm", "HOSTED_ON", "host", {}),
        ],
    )
    store.write(
        SYSTEM,
        lambda uow: uow.tx.run(
            "MATCH (s:CI {id: $shop}), (h:CI {id: $vm}) SET h.criticality = 'critical' "
            "CREATE (a:SLA {id: 'sla1', name: 'Gold', state: 'active'})-[:COVERS]->(s) "
            "CREATE (a)-[:AGREED_WITH]->(:Customer {id: 'k1', name: 'ACME'})",
            shop=cis["shop"],
            vm=cis["vm"],
        ).consume(),
    )
    # An earlier change on the host the VM runs on (a dependency) was followed by an incident.
    earlier = create(api, changeType="EMERGENCY", cis=[cis["host"]])
    store.write(
        SYSTEM,
        lambda uow: uow.tx.run(
            "MATCH (c:Change {id: $id}) SET c.implementedAt = $at, c.state = 'closed' "
            "CREATE (:Incident {id: 'i1', number: 'INC0000099'})-[:CAUSED_BY_CHANGE]->(c)",
            id=record_id(earlier["id"], "Change"),
            at=T0 - timedelta(days=3),
        ).consume(),
    )
    change = create(api, changeType="NORMAL", cis=[cis["vm"]])
    terms = {t["term"]: t for t in change["riskTerms"]}
    assert "2 CI(s) depend on vm" in terms["blast_radius"]["reason"]
    assert terms["criticality"]["score"] == 25
    assert "Gold" in terms["agreements"]["reason"] and "ACME" in terms["agreements"]["reason"]
    assert terms["change_type"]["reason"] == "a normal change"
    assert "INC0000099" in terms["history"]["reason"]
    assert change["riskScore"] == sum(t["score"] for t in change["riskTerms"])
    assert change["risk"] in ("HIGH", "VERY_HIGH")
    assert "blast_radius" in change["riskExplanation"]


def test_an_implementing_change_suppresses_alerts_on_its_cis_and_below(
    api: Api, store: Store
) -> None:
    set_policy(store, correlationWindowSeconds=0, severityActions=["error=both"])
    cis = estate(
        store, [("app", "Application"), ("host", "Server")], [("app", "RUNS_ON", "host", {})]
    )
    manager = api.as_role(store, "manager")
    change = create(api, title="Kernel upgrade", changeType="EMERGENCY", cis=[cis["host"]])
    manager.ok(APPROVE, {"input": {"id": change["id"], "approvalRole": "CHANGE_MANAGER"}})
    step(api, change, "IMPLEMENTING")
    now = datetime.now(UTC)
    process(
        store,
        [event("app-down", ci=cis["app"], at=now), event("host-down", ci=cis["host"], at=now)],
    )
    found = {a["key"]: a for a in alerts(store)}
    assert found["host-down"]["suppressed"]
    assert "Kernel upgrade" in found["host-down"]["suppressionReason"]
    assert "host, which it depends on" in found["app-down"]["suppressionReason"]
    assert change["number"] in found["app-down"]["suppressionReason"]


def test_an_incident_proposes_recent_upstream_changes_and_accepting_one_feeds_the_metrics(
    api: Api, store: Store
) -> None:
    cis = estate(
        store,
        [("shop", "Service"), ("app", "Application"), ("host", "Server"), ("other", "Server")],
        [("shop", "DEPENDS_ON", "app", {}), ("app", "RUNS_ON", "host", {})],
    )
    manager = api.as_role(store, "manager")

    def implemented(title: str, ci: str, hours_ago: float) -> dict[str, Any]:
        change = create(api, title=title, changeType="EMERGENCY", cis=[cis[ci]])
        manager.ok(APPROVE, {"input": {"id": change["id"], "approvalRole": "CHANGE_MANAGER"}})
        change = step(api, change, "IMPLEMENTING")["change"]
        at = datetime.now(UTC) - timedelta(hours=hours_ago)
        store.write(
            SYSTEM,
            lambda uow: uow.tx.run(
                "MATCH (c:Change {id: $id}) SET c.implementedAt = $at",
                id=record_id(change["id"], "Change"),
                at=at,
            ).consume(),
        )
        done: dict[str, Any] = change
        return done

    on_host = implemented("Host kernel", "host", 5)
    on_app = implemented("App config", "app", 30)
    implemented("Too old", "app", 100)
    implemented("Elsewhere", "other", 1)

    opened = api.ok(
        "mutation($input: CreateIncidentInput!) { createIncident(input: $input) { "
        "userErrors { message } incident { id changeProposals { rank hops reason accepted "
        "change { number } } changesTouching(days: 2) { number } } } }",
        {"input": {"title": "Shop slow", "ci": cis["app"], "impact": "HIGH", "urgency": "HIGH"}},
    )["createIncident"]
    assert opened["userErrors"] == []
    incident = opened["incident"]
    proposals = incident["changeProposals"]
    # Nearest first: the change on the incident's own CI, then the host one hop up.
    assert [p["change"]["number"] for p in proposals] == [on_app["number"], on_host["number"]]
    assert [p["hops"] for p in proposals] == [0, 1]
    assert "on host, 1 hop(s) upstream" in proposals[1]["reason"]
    assert {c["number"] for c in incident["changesTouching"]} == {
        on_app["number"],
        on_host["number"],
    }

    accepted = api.ok(
        "mutation($input: AcceptChangeProposalInput!) { acceptChangeProposal(input: $input) { "
        "userErrors { code field } change { number } } }",
        {"input": {"incident": incident["id"], "change": on_host["id"]}},
    )["acceptChangeProposal"]
    assert accepted == {"userErrors": [], "change": {"number": on_host["number"]}}
    again = api.ok(
        "mutation($input: AcceptChangeProposalInput!) { acceptChangeProposal(input: $input) { "
        "userErrors { code field } } }",
        {"input": {"incident": incident["id"], "change": on_host["id"]}},
    )["acceptChangeProposal"]
    assert again["userErrors"][0]["code"] == "ALREADY_LINKED"
    found = api.ok(
        "query($id: ID!) { node(id: $id) { ... on Incident { causingChanges { number } "
        "changeProposals { accepted } } } }",
        {"id": incident["id"]},
    )["node"]
    assert found["causingChanges"] == [{"number": on_host["number"]}]
    assert [p["accepted"] for p in found["changeProposals"]] == [False, True]

    ci_changes = api.ok(
        "query($id: ID!) { node(id: $id) { ... on CI { changes(days: 2) { number } "
        "upstream: changes(days: 2, upstream: true) { number } } } }",
        {"id": to_global_id("CI", cis["app"])},
    )["node"]
    assert ci_changes["changes"] == [{"number": on_app["number"]}]
    assert {c["number"] for c in ci_changes["upstream"]} == {on_app["number"], on_host["number"]}

    now = datetime.now(UTC)
    metrics = api.ok(
        "query($from: DateTime!, $to: DateTime!) { changeMetrics(from: $from, to: $to) { "
        "kind name changes failed changeFailureRate } }",
        {"from": (now - timedelta(days=2)).isoformat(), "to": now.isoformat()},
    )["changeMetrics"]
    shop = next(m for m in metrics if m["kind"] == "service" and m["name"] == "shop")
    assert shop["changes"] == 2 and shop["failed"] == 1 and shop["changeFailureRate"] == 0.5

    # A shorter proposal window, set by a manager, leaves the five-hour-old host change out.
    policy = (
        "mutation($input: SetChangePolicyInput!) { setChangePolicy(input: $input) { "
        "userErrors { code field } policy { proposalWindowHours followingIncidentHours "
        "version } } }"
    )
    refused = manager.ok(policy, {"input": {"proposalWindowHours": 0}})["setChangePolicy"]
    assert refused["userErrors"] == [
        {"code": "OUT_OF_RANGE", "field": ["input", "proposalWindowHours"]}
    ]
    assert api.post(policy, {"input": {"proposalWindowHours": 4}}).status_code == 403
    narrowed = manager.ok(policy, {"input": {"proposalWindowHours": 4}})["setChangePolicy"]
    assert narrowed["policy"] == {
        "proposalWindowHours": 4,
        "followingIncidentHours": 48,
        "version": 1,
    }
    later = api.ok(
        "mutation($input: CreateIncidentInput!) { createIncident(input: $input) { "
        "incident { changeProposals { change { number } } } } }",
        {
            "input": {
                "title": "Shop slow again",
                "ci": cis["app"],
                "impact": "LOW",
                "urgency": "LOW",
            }
        },
    )["createIncident"]["incident"]
    assert later["changeProposals"] == []
