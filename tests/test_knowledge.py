"""The knowledge base through the GraphQL API against the real Neo4j: writing, review and
publishing, revisions, who reads what, the rendered body, and the ranked search."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from core.ids import to_global_id
from graphdb.write_path import Store
from tests.conftest import Api
from tests.test_cmdb import ci, relate

ARTICLE = """id number kind title body keywords state version revision sendBackReason
  author { id name } reviewer { id name } publishedAt cis { name }"""

CREATE = f"""mutation($input: CreateKnowledgeArticleInput!) {{
  createKnowledgeArticle(input: $input) {{
    knowledgeArticle {{ {ARTICLE} }} userErrors {{ code field message }} }} }}"""
UPDATE = f"""mutation($input: UpdateKnowledgeArticleInput!) {{
  updateKnowledgeArticle(input: $input) {{
    knowledgeArticle {{ {ARTICLE} }} userErrors {{ code field message }} }} }}"""
STEP = f"""mutation($input: TransitionKnowledgeArticleInput!) {{
  transitionKnowledgeArticle(input: $input) {{
    knowledgeArticle {{ {ARTICLE} }} userErrors {{ code field message }} }} }}"""
ONE = f"""query($id: ID!) {{
  knowledgeArticle(id: $id) {{ {ARTICLE} }}
  node(id: $id) {{ ... on KnowledgeArticle {{ title }} }} }}"""
LIST = """query($filter: KnowledgeArticleFilter) {
  knowledgeArticles(filter: $filter) { totalCount edges { node { id title state } } } }"""
SEARCH = """query($q: String!, $filter: KnowledgeSearchFilter, $first: Int, $after: String,
               $last: Int, $before: String) {
  searchKnowledge(query: $q, filter: $filter, first: $first, after: $after, last: $last,
                  before: $before) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
    edges { cursor node { score highlights { field fragment } article { id title body } } }
  } }"""


def payload(api: Api, mutation: str, name: str, given: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(mutation, {"input": given})[name]
    return found


def written(api: Api, mutation: str, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """The article a mutation that must succeed left."""
    answer = payload(api, mutation, name, given)
    assert answer["userErrors"] == [], answer["userErrors"]
    article: dict[str, Any] = answer["knowledgeArticle"]
    return article


def refused(api: Api, mutation: str, name: str, given: dict[str, Any]) -> tuple[str, list[str]]:
    answer = payload(api, mutation, name, given)
    assert answer["knowledgeArticle"] is None
    [error] = answer["userErrors"]
    return error["code"], error["field"]


def create(api: Api, **given: Any) -> dict[str, Any]:
    values = {"kind": "FAQ", "title": "How do I reset my VPN token?", **given}
    return written(api, CREATE, "createKnowledgeArticle", values)


def step(api: Api, article: dict[str, Any], state: str, **changes: Any) -> dict[str, Any]:
    given = {"id": article["id"], "version": article["version"], "state": state}
    if changes:
        given["changes"] = changes
    return written(api, STEP, "transitionKnowledgeArticle", given)


def update(api: Api, article: dict[str, Any], **given: Any) -> dict[str, Any]:
    values = {"id": article["id"], "version": article["version"], **given}
    return written(api, UPDATE, "updateKnowledgeArticle", values)


def publish(author: Api, reviewer: Api, article: dict[str, Any]) -> dict[str, Any]:
    return step(reviewer, step(author, article, "REVIEW"), "PUBLISHED")


def one(api: Api, article: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    data = api.ok(ONE, {"id": article["id"]})
    return data["knowledgeArticle"], data["node"]


def search(api: Api, q: str, **variables: Any) -> dict[str, Any]:
    found: dict[str, Any] = api.ok(SEARCH, {"q": q, **variables})["searchKnowledge"]
    return found


def titles(found: dict[str, Any]) -> list[str]:
    return [e["node"]["article"]["title"] for e in found["edges"]]


def stored_articles(store: Store) -> int:
    count: int = store.read(
        lambda tx: tx.run("MATCH (n:KnowledgeArticle) RETURN count(n) AS c").single(strict=True)[
            "c"
        ]
    )
    return count


@pytest.fixture
def reviewer(api: Api, store: Store) -> Api:
    """A second agent, who reviews what the first writes."""
    return api.as_role(store, "agent")


@pytest.fixture
def viewer(api: Api, store: Store) -> Api:
    return api.as_role(store, "viewer")


def test_an_article_is_written_reviewed_and_published_by_another(
    api: Api, reviewer: Api, viewer: Api
) -> None:
    article = create(api, body="Open the portal.", keywords=["vpn", "token"])
    assert article["state"] == "DRAFT" and article["number"].startswith("KB")
    assert article["author"]["name"] == "test agent" and article["reviewer"] is None
    assert article["revision"] is None

    in_review = step(api, article, "REVIEW")
    # The author may not publish what they wrote; nothing changes.
    assert refused(
        api,
        STEP,
        "transitionKnowledgeArticle",
        {"id": in_review["id"], "version": in_review["version"], "state": "PUBLISHED"},
    ) == ("AUTHOR_CANNOT_PUBLISH", ["input", "state"])
    assert one(api, article)[0]["version"] == in_review["version"]  # type: ignore[index]

    published = step(reviewer, in_review, "PUBLISHED")
    assert published["state"] == "PUBLISHED" and published["revision"] == 1
    assert published["reviewer"]["name"] == "test agent" and published["publishedAt"]
    assert published["reviewer"]["id"] != published["author"]["id"]
    assert one(viewer, article)[0]["title"] == "How do I reset my VPN token?"  # type: ignore[index]


def test_a_manager_may_publish_what_they_wrote(api: Api, store: Store) -> None:
    manager = api.as_role(store, "manager")
    article = create(manager)
    assert publish(manager, manager, article)["revision"] == 1


def test_sending_back_needs_a_reason(api: Api, reviewer: Api) -> None:
    in_review = step(api, create(api), "REVIEW")
    given = {"id": in_review["id"], "version": in_review["version"], "state": "DRAFT"}
    assert refused(reviewer, STEP, "transitionKnowledgeArticle", given) == (
        "REQUIRED",
        ["input", "changes", "sendBackReason"],
    )
    back = step(reviewer, in_review, "DRAFT", sendBackReason="Say where the portal is.")
    assert back["state"] == "DRAFT" and back["sendBackReason"] == "Say where the portal is."
    # Only the steps the machine has: a draft is not retired back to review.
    given = {"id": back["id"], "version": back["version"], "state": "PUBLISHED"}
    assert refused(api, STEP, "transitionKnowledgeArticle", given) == (
        "INVALID_TRANSITION",
        ["input", "state"],
    )


REVISIONS = """query($id: ID!) { knowledgeArticle(id: $id) {
  revisions { totalCount edges { node { id revision title body publishedBy { name } } } } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on ArticleRevision { revision title } } }"""


def test_viewers_read_published_articles_only(
    api: Api, reviewer: Api, viewer: Api, store: Store
) -> None:
    draft = create(api, title="Draft about printers", body="printer secrets")
    assert one(viewer, draft) == (None, None)
    by_number = "query($n: String!) { knowledgeArticle(number: $n) { title } }"
    assert viewer.ok(by_number, {"n": draft["number"]})["knowledgeArticle"] is None
    assert api.ok(by_number, {"n": draft["number"]})["knowledgeArticle"] is not None
    assert one(api, draft)[1] == {"title": "Draft about printers"}
    assert viewer.ok(LIST)["knowledgeArticles"] == {"totalCount": 0, "edges": []}
    assert search(viewer, "printer")["edges"] == []
    assert viewer.ok(LIST, {"filter": {"search": "printer"}})["knowledgeArticles"]["edges"] == []
    assert titles(search(api, "printer")) == ["Draft about printers"]

    published = publish(api, reviewer, create(api, title="Printer jams", body="Open tray 2."))
    listed = viewer.ok(LIST)["knowledgeArticles"]
    assert listed["totalCount"] == 1 and listed["edges"][0]["node"]["id"] == published["id"]

    revisions = viewer.ok(REVISIONS, {"id": published["id"]})["knowledgeArticle"]["revisions"]
    revision_id = revisions["edges"][0]["node"]["id"]
    assert viewer.ok(NODE, {"id": revision_id})["node"] == {"revision": 1, "title": "Printer jams"}

    retired = step(api, published, "RETIRED")
    assert retired["state"] == "RETIRED"
    assert one(viewer, published) == (None, None)
    assert viewer.ok(NODE, {"id": revision_id})["node"] is None
    assert api.ok(NODE, {"id": revision_id})["node"] == {"revision": 1, "title": "Printer jams"}
    assert search(viewer, "printer")["edges"] == []
    assert one(api, published)[0]["state"] == "RETIRED"  # type: ignore[index]
    # Nothing is deleted, and a retired article is not edited any more.
    assert refused(
        api,
        UPDATE,
        "updateKnowledgeArticle",
        {"id": retired["id"], "version": retired["version"], "title": "Back again"},
    ) == ("RETIRED", ["input", "id"])
    assert stored_articles(store) == 2


REVISION = """query($id: ID!, $n: Int!) {
  articleRevision(articleId: $id, revision: $n) { revision title body bodyHtml article { id } } }"""


def test_editing_a_published_article_keeps_its_revision_readable(
    api: Api, reviewer: Api, viewer: Api
) -> None:
    first = publish(api, reviewer, create(api, title="Printer jams", body="Open tray 2."))
    # What is published again, unchanged, is no new draft.
    same = update(api, first, title="Printer jams", body="Open tray 2.")
    assert same["state"] == "PUBLISHED"
    editing = update(api, same, body="Open tray 3 and pull gently.")
    assert editing["state"] == "DRAFT" and editing["revision"] == 1
    assert editing["body"] == "Open tray 3 and pull gently."

    # Readers keep reading revision 1, and cannot find it by the draft's words.
    seen, node = one(viewer, first)
    assert seen is not None and seen["body"] == "Open tray 2." and node == {"title": "Printer jams"}
    assert search(viewer, "gently")["edges"] == []
    assert titles(search(viewer, "tray")) == ["Printer jams"]
    assert titles(search(api, "gently")) == ["Printer jams"]

    second = publish(api, reviewer, editing)
    assert second["revision"] == 2
    assert one(viewer, first)[0]["body"] == "Open tray 3 and pull gently."  # type: ignore[index]
    revisions = viewer.ok(REVISIONS, {"id": first["id"]})["knowledgeArticle"]["revisions"]
    assert revisions["totalCount"] == 2
    assert [(e["node"]["revision"], e["node"]["body"]) for e in revisions["edges"]] == [
        (2, "Open tray 3 and pull gently."),
        (1, "Open tray 2."),
    ]
    old = viewer.ok(REVISION, {"id": first["id"], "n": 1})["articleRevision"]
    assert old["body"] == "Open tray 2." and old["article"]["id"] == first["id"]
    assert viewer.ok(REVISION, {"id": first["id"], "n": 3})["articleRevision"] is None


HISTORY = """query($id: ID!) { knowledgeArticle(id: $id) { history { action actor after } } }"""


def test_the_audit_trail_shows_who_changed_what(api: Api, reviewer: Api, viewer: Api) -> None:
    article = publish(api, reviewer, create(api))
    history = api.ok(HISTORY, {"id": article["id"]})["knowledgeArticle"]["history"]
    transitions = [h["after"]["transition"] for h in history if h["action"] == "transition"]
    assert transitions == ["publish", "submit"]
    assert {h["actor"] for h in history} == {"test agent"}
    response = viewer.post(HISTORY, {"id": article["id"]})
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_bad_input_is_refused_with_nothing_written(api: Api, store: Store) -> None:
    def create_refused(**given: Any) -> tuple[str, list[str]]:
        values = {"kind": "FAQ", "title": "A title", **given}
        return refused(api, CREATE, "createKnowledgeArticle", values)

    assert create_refused(title="   ") == ("REQUIRED", ["input", "title"])
    assert create_refused(title="x" * 201) == ("TOO_LONG", ["input", "title"])
    missing = to_global_id("CI", "no-such-ci")
    assert create_refused(cis=[missing]) == ("NOT_FOUND", ["input", "cis"])
    incident = to_global_id("Incident", "x")
    assert create_refused(cis=[incident]) == ("WRONG_TYPE", ["input", "cis"])
    response = api.post(CREATE, {"input": {"kind": "ESSAY", "title": "x"}})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert stored_articles(store) == 0

    article = create(api)
    stale = {"id": article["id"], "version": article["version"] + 1, "title": "Changed"}
    assert refused(api, UPDATE, "updateKnowledgeArticle", stale) == (
        "CONFLICT",
        ["input", "version"],
    )
    assert one(api, article)[0]["title"] == article["title"]  # type: ignore[index]
    viewer = api.as_role(store, "viewer")
    response = viewer.post(CREATE, {"input": {"kind": "FAQ", "title": "Mine"}})
    assert response.status_code == 403
    assert stored_articles(store) == 1


BODY = """query($id: ID!) { knowledgeArticle(id: $id) { bodyHtml } }"""


def test_the_body_is_rendered_to_safe_html(api: Api) -> None:
    article = create(
        api,
        body="# Steps\n\n1. Open **Settings**\n\n<script>alert('x')</script>\n\n"
        "[safe](https://example.com) [evil](javascript:alert(1)) "
        '<a href="javascript:alert(2)">raw</a>',
    )
    html = api.ok(BODY, {"id": article["id"]})["knowledgeArticle"]["bodyHtml"]
    assert "<h1>Steps</h1>" in html and "<strong>Settings</strong>" in html
    assert '<a href="https://example.com"' in html
    tags = _tags(html)
    assert "script" not in {tag for tag, _ in tags}
    assert [dict(attrs).get("href") for tag, attrs in tags if tag == "a"] == ["https://example.com"]
    assert "&lt;script&gt;" in html  # shown as text, never run


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The elements a browser would build from the HTML, with their attributes."""
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collect().feed(html)
    return found


def test_search_ranks_filters_and_highlights(api: Api, reviewer: Api, viewer: Api) -> None:
    shop = ci(api, "web-shop", "Service")
    app = ci(api, "checkout", "Application")
    db = ci(api, "orders-db", "Database")
    other = ci(api, "payroll", "Application")
    assert relate(api, shop["id"], "DEPENDS_ON", app["id"])["data"]["relateCis"]["userErrors"] == []
    assert relate(api, app["id"], "DEPENDS_ON", db["id"])["data"]["relateCis"]["userErrors"] == []

    best = create(
        api,
        title="Database failover for the orders database",
        body="When the database is down, fail over. The <b>database</b> replica takes over.",
        keywords=["database", "failover"],
        cis=[db["id"]],
    )
    weaker = create(
        api,
        kind="PROCESS_DOCUMENT",
        title="Checkout release process",
        body="Deploy checkout; the database migrates first.",
        cis=[app["id"]],
    )
    unrelated = create(
        api, title="Payroll runs", body="Payroll needs its database.", cis=[other["id"]]
    )
    for article in (best, weaker, unrelated):
        publish(api, reviewer, article)

    found = search(viewer, "database")
    assert titles(found)[0] == "Database failover for the orders database"
    assert found["totalCount"] == 3
    scores = [e["node"]["score"] for e in found["edges"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    top = {(h["field"], h["fragment"]) for h in found["edges"][0]["node"]["highlights"]}
    assert ("TITLE", "<mark>Database</mark> failover for the orders <mark>database</mark>") in top
    assert ("KEYWORDS", "<mark>database</mark>") in top
    body = [f for field, f in top if field == "BODY"]
    assert body and "&lt;b&gt;<mark>database</mark>&lt;/b&gt;" in body[0]

    assert titles(search(viewer, "database", filter={"kind": "PROCESS_DOCUMENT"})) == [
        "Checkout release process"
    ]
    assert titles(search(viewer, "database", filter={"ci": db["id"]})) == [
        "Database failover for the orders database"
    ]
    # A service finds the articles about what it depends on, through the CMDB's walk.
    assert sorted(titles(search(viewer, "database", filter={"service": shop["id"]}))) == [
        "Checkout release process",
        "Database failover for the orders database",
    ]
    assert search(viewer, "database", filter={"state": "DRAFT"})["edges"] == []

    # Paging by rank: one at a time forwards, then backwards, neither repeats nor skips.
    seen, cursor = [], None
    while True:
        page = search(viewer, "database", first=1, after=cursor)
        seen += titles(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert seen == titles(found)
    back = search(viewer, "database", last=2, before=found["edges"][2]["cursor"])
    assert titles(back) == titles(found)[:2]


def test_search_input_is_checked(api: Api) -> None:
    def error(q: str, **variables: Any) -> tuple[str, str]:
        body = api.post(SEARCH, {"q": q, **variables}).json()
        ext = body["errors"][0]["extensions"]
        return ext["code"], ext.get("field")

    assert error("  ") == ("BAD_USER_INPUT", "query")
    assert error("x" * 1001) == ("BAD_USER_INPUT", "query")
    assert error("vpn", filter={"service": to_global_id("CI", "nope")}) == (
        "NOT_FOUND",
        "filter.service",
    )
    assert error("vpn", filter={"ci": to_global_id("Incident", "x")}) == (
        "BAD_USER_INPUT",
        "filter.ci",
    )
