"""A recurring outage followed end to end through the API, against the real Neo4j: incidents
below one database open a problem by themselves; its root cause and workaround generate a known
error whose workaround shows on the next incident at once; a normal change that fixes it comes
with its risk explained, no conflicts and both approvals; a release ships it, and the catalogue,
the CIs' version and the whole chain are resolved, every link read back through GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_alerts import estate
from tests.test_changes import APPROVE
from tests.test_problems import fillers, incident, problems
from tests.test_releases import DEPLOY, made, release_step, step

CHANGE = """id number state version risk riskScore riskTerms { term score reason }
  conflictCount conflicts { kind otherNumber } fixes { number } addressedProblems { number }"""
CHAIN = """query($id: ID!) { problem(id: $id) {
  number state trigger triggerReason cisAtFault { name } triggeredBy { number }
  incidents { number state resolutionCode }
  knownErrors { id number state workaround generated incidents { number } }
  changes { number state outcome } fixedBy { number state catalogEntries { offeringVersion } }
} }"""
MATCHED = """query($id: ID!) { node(id: $id) { ... on Incident {
  number workaround knownErrors { number } problems { number }
  knownErrorMatches { how reason knownError { number } } } } }"""


def test_a_recurring_outage_from_incidents_to_a_deployed_release(api: Api, store: Store) -> None:
    manager = api.as_role(store, "manager")
    cis = estate(
        store,
        [
            ("shop", "Service"),
            ("checkout", "Application"),
            ("search", "Application"),
            ("orders-db", "Database"),
            *fillers(),
        ],
        [
            ("shop", "DEPENDS_ON", "checkout", {}),
            ("shop", "DEPENDS_ON", "search", {}),
            ("checkout", "DEPENDS_ON", "orders-db", {}),
            ("search", "DEPENDS_ON", "orders-db", {}),
        ],
    )
    entry = made(
        manager, "CatalogEntry", name="Online Shop", service=cis["shop"], offeringVersion="1.4"
    )

    # Incidents on two applications that both need orders-db: the problem opens by itself.
    first = [incident(api, cis[ci], "orders time out") for ci in ("checkout", "search", "checkout")]
    [opened] = problems(api)
    assert opened["trigger"] == "RECURRENCE_BELOW_UPSTREAM"
    assert [c["name"] for c in opened["cisAtFault"]] == ["orders-db"]

    # Root cause and workaround: the known error is generated in the same transaction.
    updated = api.ok(
        "mutation($input: UpdateProblemInput!) { updateProblem(input: $input) { "
        "userErrors { code field } problem { version } } }",
        {
            "input": {
                "id": opened["id"],
                "rootCause": "The connection pool of orders-db is too small at peak",
                "workaround": "Restart the checkout pods to release their connections",
            }
        },
    )["updateProblem"]
    assert updated["userErrors"] == []
    step(api, "Problem", opened, "ROOT_CAUSE_KNOWN")
    chain = api.ok(CHAIN, {"id": opened["id"]})["problem"]
    [known] = chain["knownErrors"]
    assert known["generated"] is True and known["state"] == "ACTIVE"
    # The incidents the problem already causes match it at once: their workaround shows too.
    earlier = api.ok(MATCHED, {"id": first[0]["id"]})["node"]
    assert earlier["workaround"] == "Restart the checkout pods to release their connections"
    assert earlier["knownErrorMatches"][0]["how"] == "PROBLEM"

    # The next incident, on the service above, matches it by topology: the workaround at once.
    later = incident(api, cis["shop"], "cannot pay")
    seen = api.ok(MATCHED, {"id": later["id"]})["node"]
    assert seen["workaround"] == "Restart the checkout pods to release their connections"
    assert seen["knownErrorMatches"][0]["how"] == "TOPOLOGY"
    assert seen["knownErrorMatches"][0]["knownError"]["number"] == known["number"]
    assert seen["problems"] == [{"number": opened["number"]}]

    # The fix: a normal change on orders-db, its risk explained, no conflicts, both approvals.
    start = datetime.now(UTC) + timedelta(days=3)
    change = api.ok(
        "mutation($input: CreateChangeInput!) { createChange(input: $input) { "
        "userErrors { code field message } change { " + CHANGE + " } } }",
        {
            "input": {
                "title": "Double the orders-db connection pool",
                "changeType": "NORMAL",
                "cis": [cis["orders-db"]],
                "fixes": [known["id"]],
                "problems": [opened["id"]],
                "plannedStart": start.isoformat(),
                "plannedEnd": (start + timedelta(hours=1)).isoformat(),
            }
        },
    )["createChange"]
    assert change["userErrors"] == [], change
    change = change["change"]
    terms = {t["term"]: t for t in change["riskTerms"]}
    assert terms["blast_radius"]["score"] > 0 and "depend" in terms["blast_radius"]["reason"]
    assert terms["change_type"]["reason"]
    assert change["conflictCount"] == 0 and change["conflicts"] == []
    assert change["fixes"] == [{"number": known["number"]}]
    assert change["addressedProblems"] == [{"number": opened["number"]}]
    for state in ("ASSESSMENT", "AUTHORISATION"):
        step(api, "Change", change, state)
    for role in ("CHANGE_MANAGER", "CAB"):
        decided = manager.ok(APPROVE, {"input": {"id": change["id"], "approvalRole": role}})
        assert decided["approveChange"]["userErrors"] == []
    step(api, "Change", change, "SCHEDULED")

    # The release ships it: catalogue updated and the whole chain resolved, in one transaction.
    release = made(
        api,
        "Release",
        title="Shop 1.5",
        releaseVersion="1.5",
        changes=[change["id"]],
        catalogEntries=[entry["id"]],
    )
    step(api, "Release", release, "BUILT")
    deployed = release_step(api, DEPLOY, release)
    assert deployed["userErrors"] == [], deployed

    chain = api.ok(CHAIN, {"id": opened["id"]})["problem"]
    assert chain["state"] == "RESOLVED"
    assert chain["fixedBy"]["number"] == release["number"]
    assert chain["fixedBy"]["state"] == "DEPLOYED"
    assert chain["fixedBy"]["catalogEntries"] == [{"offeringVersion": "1.5"}]
    assert chain["knownErrors"][0]["state"] == "FIXED"
    assert chain["changes"] == [
        {"number": change["number"], "state": "REVIEW", "outcome": "SUCCESSFUL"}
    ]
    numbers = sorted(i["number"] for i in (*first, later))
    assert sorted(i["number"] for i in chain["incidents"]) == numbers
    assert {(i["state"], i["resolutionCode"]) for i in chain["incidents"]} == {
        ("RESOLVED", "RESOLVED_BY_CHANGE")
    }
    assert later["number"] in {i["number"] for i in chain["knownErrors"][0]["incidents"]}
    ci = api.ok("query($id: ID!) { ci(id: $id) { attributes } }", {"id": cis["orders-db"]})
    assert ci["ci"]["attributes"]["version"] == "1.5"
