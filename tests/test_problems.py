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


def chain(store: Store) -> dict[str, str]:
    """Two applications on one database on one storage array; a third app elsewhere."""
    return estate(
        store,
        [
            ("shop", "Application"),
            ("billing", "Application"),
            ("crm", "Application"),
            ("orders-db", "Database"),
            ("san", "Storage"),
            ("crm-db", "Database"),
        ],
        [
            ("shop", "DEPENDS_ON", "orders-db", {}),
            ("billing", "DEPENDS_ON", "orders-db", {}),
            ("orders-db", "STORED_ON", "san", {}),
            ("crm", "DEPENDS_ON", "crm-db", {}),
        ],
    )


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
