"""Release Management through the API: a deployment implements the release's changes, updates
the catalogue entry and the modified CIs' version, fixes the known error, resolves its problem
and the incidents it causes (telling the team of one another open problem still causes), all
audited; a rollback restores and reopens exactly that; refusals write nothing."""

from __future__ import annotations

from typing import Any

from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_alerts import estate

RELEASE_FIELDS = """id number state version releaseVersion deployedAt rolledBackAt
  changes { number state outcome } catalogEntries { number offeringVersion offering }
  knownErrors { number state } problems { number state } problemsLeftOpen { number }
  incidents { number state } incidentsTold { number }"""
DEPLOY = (
    "mutation($input: ReleaseStepInput!) { deployRelease(input: $input) { "
    "userErrors { code field message } release { " + RELEASE_FIELDS + " } } }"
)
ROLLBACK = DEPLOY.replace("deployRelease", "rollbackRelease")
STEP = (
    "mutation($input: TransitionReleaseInput!) { transitionRelease(input: $input) { "
    "userErrors { code field message } release { " + RELEASE_FIELDS + " } } }"
)
INCIDENT = """query($id: ID!) { node(id: $id) { ... on Incident {
  number state resolutionCode resolutionNotes } } }"""
WINDOW = {"plannedStart": "2026-12-10T22:00:00+00:00", "plannedEnd": "2026-12-11T00:00:00+00:00"}
PROBLEM = """query($id: ID!) { problem(id: $id) { number state fixedBy { number } } }"""


def made(api: Api, label: str, **values: Any) -> dict[str, Any]:
    field = label[0].lower() + label[1:]
    body = api.ok(
        f"mutation($input: Create{label}Input!) {{ create{label}(input: $input) {{ "
        f"userErrors {{ code field message }} {field} {{ id number }} }} }}",
        {"input": values},
    )[f"create{label}"]
    assert body["userErrors"] == [], body
    return dict(body[field])


def step(api: Api, label: str, record: dict[str, Any], state: str) -> None:
    field = label[0].lower() + label[1:]
    body = api.ok(
        f"mutation($input: Transition{label}Input!) {{ transition{label}(input: $input) {{ "
        f"userErrors {{ code field message }} {field} {{ state }} }} }}",
        {"input": {"id": record["id"], "state": state}},
    )[f"transition{label}"]
    assert body["userErrors"] == [], body


def release_step(api: Api, query: str, release: dict[str, Any]) -> dict[str, Any]:
    name = "deployRelease" if "deployRelease" in query else "rollbackRelease"
    answer: dict[str, Any] = api.ok(query, {"input": {"id": release["id"]}})[name]
    return answer


def graph_size(store: Store) -> tuple[int, int]:
    def count(tx: Any) -> tuple[int, int]:
        nodes = tx.run("MATCH (n) RETURN count(n) AS n").single(strict=True)["n"]
        rels = tx.run("MATCH ()-[r]->() RETURN count(r) AS n").single(strict=True)["n"]
        return int(nodes), int(rels)

    return store.read(count)


def audited(store: Store, action: str, release: str) -> list[tuple[str, str]]:
    """The records audited with `action`, each entry naming the release."""
    rows = store.read(
        lambda tx: list(
            tx.run(
                "MATCH (a:AuditEntry {action: $action})-[:RECORDS]->(n) "
                "RETURN a.recordLabel AS label, "
                "  CASE a.recordLabel WHEN 'CI' THEN n.name ELSE n.number END AS name, "
                "  a.after AS after ORDER BY label, name",
                action=action,
            )
        )
    )
    assert all(f'"release": "{release}"' in r["after"] for r in rows), rows
    return [(r["label"], r["name"]) for r in rows]


def ci_version(api: Api, ci: str) -> Any:
    found = api.ok("query($id: ID!) { ci(id: $id) { attributes } }", {"id": ci})["ci"]
    return found["attributes"].get("version")


def scene(api: Api, store: Store) -> dict[str, Any]:
    """A shop service with its catalogue entry, two CIs, a problem with a known error causing
    two incidents, and a third incident also caused by a problem still under investigation."""
    manager = api.as_role(store, "manager")
    cis = estate(store, [("shop", "Service"), ("web", "Application"), ("db", "Database")])
    entry = made(
        manager,
        "CatalogEntry",
        name="Online Shop",
        service=cis["shop"],
        offeringVersion="2026.11",
        offering="Browse and buy",
    )
    team = made(manager, "Team", name="Web Operations", email="web@example.com")
    incidents = [
        made(api, "Incident", title=t, impact="LOW", urgency="LOW", ci=ci, team=team["id"])
        for t, ci in (("checkout fails", cis["web"]), ("orders slow", cis["db"]))
    ]
    third = made(
        api, "Incident", title="basket empties", impact="LOW", urgency="LOW", team=team["id"]
    )
    problem = made(
        api,
        "Problem",
        title="Connection pool exhausted",
        rootCause="pool too small",
        incidents=[i["id"] for i in (*incidents, third)],
    )
    step(api, "Problem", problem, "ROOT_CAUSE_KNOWN")
    other = made(api, "Problem", title="Session store flaps", incidents=[third["id"]])
    known_error = made(api, "KnownError", title="Pool exhausted", problem=problem["id"])
    template = made(api, "ChangeTemplate", name="Deploy the shop")
    changes = [
        made(
            api,
            "Change",
            title="Bigger pool",
            changeType="STANDARD",
            template=template["id"],
            cis=[cis["web"]],
            fixes=[known_error["id"]],
            **WINDOW,
        ),
        made(
            api,
            "Change",
            title="Session store fix",
            changeType="STANDARD",
            template=template["id"],
            cis=[cis["db"]],
            problems=[other["id"]],
            **WINDOW,
        ),
    ]
    for change in changes:
        step(api, "Change", change, "SCHEDULED")
    release = made(
        api,
        "Release",
        title="Shop 2026.12",
        releaseVersion="2026.12",
        offering="Browse, buy and return",
        changes=[c["id"] for c in changes],
        catalogEntries=[entry["id"]],
    )
    return {
        "cis": cis,
        "entry": entry,
        "incidents": incidents,
        "third": third,
        "problem": problem,
        "other": other,
        "knownError": known_error,
        "changes": changes,
        "release": release,
    }


def test_deploying_closes_what_the_changes_fix_and_rolling_back_reopens_it(
    api: Api, store: Store
) -> None:
    s = scene(api, store)
    release = s["release"]
    assert release["number"].startswith("REL")
    step(api, "Release", release, "BUILT")

    deployed = release_step(api, DEPLOY, release)
    assert deployed["userErrors"] == [], deployed
    got = deployed["release"]
    assert got["state"] == "DEPLOYED" and got["deployedAt"]
    assert [(c["state"], c["outcome"]) for c in got["changes"]] == [("REVIEW", "SUCCESSFUL")] * 2
    assert got["catalogEntries"] == [
        {
            "number": s["entry"]["number"],
            "offeringVersion": "2026.12",
            "offering": "Browse, buy and return",
        }
    ]
    assert got["knownErrors"] == [{"number": s["knownError"]["number"], "state": "FIXED"}]
    assert got["problems"] == [{"number": s["problem"]["number"], "state": "RESOLVED"}]
    assert got["problemsLeftOpen"] == [{"number": s["other"]["number"]}]
    numbers = sorted(i["number"] for i in s["incidents"])
    assert sorted(i["number"] for i in got["incidents"]) == numbers
    assert {i["state"] for i in got["incidents"]} == {"RESOLVED"}
    assert got["incidentsTold"] == [{"number": s["third"]["number"]}]
    for incident in s["incidents"]:
        found = api.ok(INCIDENT, {"id": incident["id"]})["node"]
        assert found["resolutionCode"] == "RESOLVED_BY_CHANGE"
        assert release["number"] in found["resolutionNotes"]
    assert api.ok(INCIDENT, {"id": s["third"]["id"]})["node"]["state"] != "RESOLVED"
    told = store.read(
        lambda tx: tx.run(
            "MATCH (n:Notification {reason: 'release_deployed'})-[:NOTIFIES_ABOUT]->(i) "
            "RETURN collect(DISTINCT i.number) AS about"
        ).single(strict=True)["about"]
    )
    assert told == [s["third"]["number"]]
    assert [ci_version(api, s["cis"][k]) for k in ("web", "db", "shop")] == [
        "2026.12",
        "2026.12",
        None,
    ]
    assert api.ok(PROBLEM, {"id": s["problem"]["id"]})["problem"]["fixedBy"] == {
        "number": release["number"]
    }
    assert api.ok(PROBLEM, {"id": s["other"]["id"]})["problem"]["fixedBy"] is not None
    # One entry per record the deployment touched, naming the release.
    expected = sorted(
        [("CI", "db"), ("CI", "web"), ("CatalogEntry", s["entry"]["number"])]
        + [("Change", c["number"]) for c in s["changes"]]
        + [("Incident", n) for n in numbers]
        + [("KnownError", s["knownError"]["number"]), ("Problem", s["problem"]["number"])]
    )
    assert audited(store, "release_deploy", release["number"]) == expected

    rolled = release_step(api, ROLLBACK, got)
    assert rolled["userErrors"] == [], rolled
    back = rolled["release"]
    assert back["state"] == "ROLLED_BACK" and back["rolledBackAt"]
    assert [(c["state"], c["outcome"]) for c in back["changes"]] == [("FAILED", "FAILED")] * 2
    assert back["catalogEntries"][0]["offeringVersion"] == "2026.11"
    assert back["catalogEntries"][0]["offering"] == "Browse and buy"
    assert back["knownErrors"] == [{"number": s["knownError"]["number"], "state": "ACTIVE"}]
    assert back["problems"] == [{"number": s["problem"]["number"], "state": "UNDER_INVESTIGATION"}]
    assert {i["state"] for i in back["incidents"]} == {"IN_PROGRESS"}
    for incident in s["incidents"]:
        found = api.ok(INCIDENT, {"id": incident["id"]})["node"]
        assert found["resolutionCode"] is None and found["resolutionNotes"] is None
    assert [ci_version(api, s["cis"][k]) for k in ("web", "db")] == [None, None]
    assert api.ok(PROBLEM, {"id": s["problem"]["id"]})["problem"]["fixedBy"] is None
    assert audited(store, "release_rollback", release["number"]) == expected

    # Built again, it cannot ship the failed changes: a retry includes new ones.
    step(api, "Release", back, "BUILT")
    before = graph_size(store)
    again = release_step(api, DEPLOY, back)
    assert again["release"] is None
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [
        ("CHANGE_NOT_DEPLOYABLE", ["input", "changes"])
    ]
    assert graph_size(store) == before


def test_refusals_write_nothing_and_transition_release_deploys_as_deploy_release_does(
    api: Api, store: Store
) -> None:
    s = scene(api, store)
    release = s["release"]
    empty = made(api, "Release", title="Nothing yet", releaseVersion="2026.13")
    step(api, "Release", empty, "BUILT")
    before = graph_size(store)

    planned = release_step(api, DEPLOY, release)
    assert planned["release"] is None
    [error] = planned["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID_TRANSITION", ["input", "id"])
    assert "'planned'" in error["message"] and "built" in error["message"]
    by_step = api.ok(STEP, {"input": {"id": release["id"], "state": "DEPLOYED"}})
    assert by_step["transitionRelease"]["userErrors"][0]["field"] == ["input", "state"]

    no_changes = release_step(api, DEPLOY, empty)
    assert [(e["code"], e["field"]) for e in no_changes["userErrors"]] == [
        ("NO_CHANGES", ["input", "changes"])
    ]
    not_deployed = release_step(api, ROLLBACK, empty)
    assert not_deployed["userErrors"][0]["code"] == "INVALID_TRANSITION"
    stale = api.ok(DEPLOY, {"input": {"id": release["id"], "version": 99}})["deployRelease"]
    assert stale["userErrors"][0]["code"] == "CONFLICT"

    assert graph_size(store) == before
    found = api.ok("query($id: ID!) { release(id: $id) { state version } }", {"id": release["id"]})[
        "release"
    ]
    assert found == {"state": "PLANNED", "version": 1}
    for change in s["changes"]:
        state = api.ok("query($id: ID!) { change(id: $id) { state } }", {"id": change["id"]})
        assert state["change"]["state"] == "SCHEDULED"

    # transitionRelease to DEPLOYED and to ROLLED_BACK run the same steps.
    step(api, "Release", release, "BUILT")
    deployed = api.ok(STEP, {"input": {"id": release["id"], "state": "DEPLOYED"}})
    got = deployed["transitionRelease"]["release"]
    assert got["state"] == "DEPLOYED" and len(got["incidents"]) == 2
    assert got["knownErrors"] == [{"number": s["knownError"]["number"], "state": "FIXED"}]
    back = api.ok(STEP, {"input": {"id": release["id"], "state": "ROLLED_BACK"}})
    got = back["transitionRelease"]["release"]
    assert got["state"] == "ROLLED_BACK"
    assert {i["state"] for i in got["incidents"]} == {"IN_PROGRESS"}
