"""Problem Management through the API against the real Neo4j: each trigger opens a problem by
itself and says why (recurrence on one CI, recurrence below a shared upstream CI, a major incident
resolved), a trigger firing again links to the open problem instead of opening a duplicate, the
propose mode, and the lifecycle's refusals writing nothing."""

from __future__ import annotations

from typing import Any

from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_alerts import estate

PROBLEM_FIELDS = """id number title state trigger triggerReason rootCause workaround version
  resolvedAt cisAtFault { name } triggeredBy { number } incidents { number }
  proposedIncidents { number }"""
OPEN = (
    "mutation($input: CreateIncidentInput!) { createIncident(input: $input) { "
    "userErrors { code field message } incident { id number version state "
    "problems { number } proposedProblems { number } } } }"
)
PROBLEMS = "{ problems(first: 50) { edges { node { " + PROBLEM_FIELDS + " } } } }"
STEP = (
    "mutation($input: TransitionProblemInput!) { transitionProblem(input: $input) { "
    "userErrors { code field message } problem { " + PROBLEM_FIELDS + " } } }"
)
POLICY = (
    "mutation($input: SetProblemPolicyInput!) { setProblemPolicy(input: $input) { "
    "userErrors { code field message } policy { recurrenceCount recurrenceWindowHours "
    "linkMode version } } }"
)


def incident(api: Api, ci: str, title: str = "orders fail") -> dict[str, Any]:
    body = api.ok(OPEN, {"input": {"title": title, "impact": "LOW", "urgency": "LOW", "ci": ci}})
    answer: dict[str, Any] = body["createIncident"]
    assert answer["userErrors"] == [], answer
    return dict(answer["incident"])


def problems(api: Api) -> list[dict[str, Any]]:
    return [e["node"] for e in api.ok(PROBLEMS)["problems"]["edges"]]


def fillers(count: int = 300) -> list[tuple[str, str]]:
    """CIs nothing in the scene needs: the rest of an estate, against which a few incidents
    below one database are more than chance."""
    return [(f"desk-{n:03d}", "Desktop") for n in range(count)]


def chain(store: Store, rest: int = 300) -> dict[str, str]:
    """Two applications on one database on one storage array; a third app elsewhere; and the
    rest of the estate."""
    return estate(
        store,
        [
            ("shop", "Application"),
            ("billing", "Application"),
            ("crm", "Application"),
            ("orders-db", "Database"),
            ("san", "Storage"),
            ("crm-db", "Database"),
            *fillers(rest),
        ],
        [
            ("shop", "DEPENDS_ON", "orders-db", {}),
            ("billing", "DEPENDS_ON", "orders-db", {}),
            ("orders-db", "STORED_ON", "san", {}),
            ("crm", "DEPENDS_ON", "crm-db", {}),
        ],
    )


def resolve_incident(api: Api, incident_id: str, version: int, notes: str) -> None:
    """Work an incident and resolve it, as its assignee would, through the API."""
    step = (
        "mutation($input: TransitionIncidentInput!) { transitionIncident(input: $input) { "
        "userErrors { code field } incident { state version } } }"
    )
    for state, changes in (
        ("IN_PROGRESS", None),
        ("RESOLVED", {"resolutionCode": "FIXED", "resolutionNotes": notes}),
    ):
        given: dict[str, Any] = {"id": incident_id, "state": state, "version": version}
        if changes:
            given["changes"] = changes
        answer = api.ok(step, {"input": given})["transitionIncident"]
        assert answer["userErrors"] == [], answer
        version = answer["incident"]["version"]


def test_recurrence_on_one_ci_opens_one_problem_and_later_incidents_link_to_it(
    api: Api, store: Store
) -> None:
    cis = chain(store)
    first, second = incident(api, cis["shop"]), incident(api, cis["shop"])
    assert problems(api) == []
    third = incident(api, cis["shop"])
    [problem] = problems(api)
    assert problem["trigger"] == "RECURRENCE_ON_CI" and problem["state"] == "NEW"
    assert problem["number"].startswith("PRB")
    assert [c["name"] for c in problem["cisAtFault"]] == ["shop"]
    assert problem["triggeredBy"]["number"] == third["number"]
    numbers = sorted(i["number"] for i in (first, second, third))
    assert sorted(i["number"] for i in problem["incidents"]) == numbers
    assert "3 incidents within 24 h on shop" in problem["triggerReason"]
    assert all(n in problem["triggerReason"] for n in numbers)
    # A fourth incident is explained by the open problem: linked, not a second problem.
    fourth = incident(api, cis["shop"])
    assert fourth["problems"] == [{"number": problem["number"]}]
    assert len(problems(api)) == 1


def test_recurrence_below_a_shared_upstream_ci_puts_the_common_cause_at_fault(
    api: Api, store: Store
) -> None:
    cis = chain(store)
    incident(api, cis["shop"])
    incident(api, cis["crm"])  # elsewhere: counts for nothing below orders-db
    incident(api, cis["billing"])
    assert problems(api) == []
    last = incident(api, cis["shop"])
    [problem] = problems(api)
    assert problem["trigger"] == "RECURRENCE_BELOW_UPSTREAM"
    # orders-db is the nearest CI both applications need; the storage under it is further.
    assert [c["name"] for c in problem["cisAtFault"]] == ["orders-db"]
    assert "on billing, shop, which all depend on orders-db" in problem["triggerReason"]
    assert "2 of 306 CIs need it" in problem["triggerReason"]
    assert problem["triggeredBy"]["number"] == last["number"]
    assert len(problem["incidents"]) == 3
    # A later incident on the database itself, or on anything below it, joins that problem.
    on_db = incident(api, cis["orders-db"])
    assert on_db["problems"] == [{"number": problem["number"]}]
    on_crm = incident(api, cis["crm"])
    assert on_crm["problems"] == []
    assert len(problems(api)) == 1


def test_incidents_below_a_ci_most_of_the_estate_needs_are_chance(api: Api, store: Store) -> None:
    # Six CIs, two of which need orders-db: three of four incidents below it is what chance
    # alone gives, so no problem opens; the same incidents on one CI still open one.
    cis = chain(store, rest=0)
    for ci in ("shop", "crm", "billing", "shop"):
        incident(api, cis[ci])
    assert problems(api) == []
    incident(api, cis["shop"])
    [problem] = problems(api)
    assert problem["trigger"] == "RECURRENCE_ON_CI"


def test_propose_mode_waits_for_acceptance_and_the_policy_is_checked(
    api: Api, store: Store
) -> None:
    cis = chain(store)
    manager = api.as_role(store, "manager")
    refused = manager.ok(POLICY, {"input": {"recurrenceCount": 1}})["setProblemPolicy"]
    assert refused["userErrors"][0]["field"] == ["input", "recurrenceCount"]
    assert refused["userErrors"][0]["code"] == "OUT_OF_RANGE"
    denied = api.post(POLICY, {"input": {"linkMode": "PROPOSE"}})
    assert denied.status_code == 403
    assert denied.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    policy = manager.ok(POLICY, {"input": {"recurrenceCount": 2, "linkMode": "PROPOSE"}})[
        "setProblemPolicy"
    ]["policy"]
    assert policy["recurrenceCount"] == 2 and policy["linkMode"] == "PROPOSE"
    incident(api, cis["orders-db"])
    incident(api, cis["orders-db"])
    [problem] = problems(api)
    assert problem["trigger"] == "RECURRENCE_ON_CI"
    later = incident(api, cis["shop"])  # shop needs orders-db, at fault
    assert later["problems"] == [] and later["proposedProblems"] == [{"number": problem["number"]}]
    accept = (
        "mutation($input: LinkIncidentToProblemInput!) { acceptProblemProposal(input: $input) {"
        " userErrors { code field } problem { incidents { number } proposedIncidents { number }"
        " } } }"
    )
    given = {"input": {"incident": later["id"], "problem": problem["id"]}}
    accepted = api.ok(accept, given)["acceptProblemProposal"]
    assert accepted["userErrors"] == []
    assert later["number"] in {i["number"] for i in accepted["problem"]["incidents"]}
    assert accepted["problem"]["proposedIncidents"] == []
    again = api.ok(accept, given)["acceptProblemProposal"]
    assert again["userErrors"] == [{"code": "NOT_PROPOSED", "field": ["input", "problem"]}]


def test_a_resolved_major_incident_opens_a_problem_once(api: Api, store: Store) -> None:
    cis = chain(store)
    opened = api.ok(
        OPEN.replace("state ", "state major "),
        {
            "input": {
                "title": "shop down",
                "impact": "HIGH",
                "urgency": "HIGH",
                "ci": cis["shop"],
                "major": True,
            }
        },
    )["createIncident"]["incident"]
    assert opened["major"] is True
    assert problems(api) == []
    resolve_incident(api, opened["id"], opened["version"], "restarted")
    [problem] = problems(api)
    assert problem["trigger"] == "MAJOR_INCIDENT"
    assert problem["triggeredBy"]["number"] == opened["number"]
    assert opened["number"] in problem["triggerReason"]
    assert [c["name"] for c in problem["cisAtFault"]] == ["shop"]


def test_the_lifecycle_needs_a_root_cause_and_a_refusal_writes_nothing(
    api: Api, store: Store
) -> None:
    cis = chain(store)
    create = (
        "mutation($input: CreateProblemInput!) { createProblem(input: $input) { "
        "userErrors { code field } problem { " + PROBLEM_FIELDS + " } } }"
    )
    # Why a problem opened is the system's to say: the input has no trigger.
    derived = api.post(create, {"input": {"title": "x", "trigger": "MAJOR_INCIDENT"}}).json()
    assert derived["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "trigger" in derived["errors"][0]["message"]
    made = api.ok(create, {"input": {"title": "Slow checkout", "cisAtFault": [cis["orders-db"]]}})[
        "createProblem"
    ]["problem"]
    assert made["trigger"] == "MANUAL" and made["state"] == "NEW"
    investigating = api.ok(STEP, {"input": {"id": made["id"], "state": "UNDER_INVESTIGATION"}})[
        "transitionProblem"
    ]["problem"]

    def count() -> tuple[int, int]:
        row = store.read(
            lambda tx: tx.run(
                "MATCH (n) OPTIONAL MATCH (n)-[r]->() RETURN count(DISTINCT n) AS n, count(r) AS r"
            ).single(strict=True)
        )
        return int(row["n"]), int(row["r"])

    before = count()
    refused = api.ok(STEP, {"input": {"id": made["id"], "state": "ROOT_CAUSE_KNOWN"}})
    [error] = refused["transitionProblem"]["userErrors"]
    assert (error["code"], error["field"]) == ("REQUIRED", ["input", "changes", "rootCause"])
    invalid = api.ok(STEP, {"input": {"id": made["id"], "state": "CLOSED"}})
    assert invalid["transitionProblem"]["userErrors"][0]["field"] == ["input", "state"]
    assert count() == before
    known = api.ok(
        STEP,
        {
            "input": {
                "id": made["id"],
                "state": "ROOT_CAUSE_KNOWN",
                "version": investigating["version"],
                "changes": {"rootCause": "an index is missing"},
            }
        },
    )["transitionProblem"]["problem"]
    assert known["state"] == "ROOT_CAUSE_KNOWN" and known["rootCause"] == "an index is missing"
    resolved = api.ok(STEP, {"input": {"id": made["id"], "state": "RESOLVED"}})
    assert resolved["transitionProblem"]["problem"]["resolvedAt"]
