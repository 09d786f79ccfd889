"""Articles: who may read what, writing and editing, review and publishing, and revisions.

* Writers (roles with WORK_RECORDS: agents, managers, admins, automation) see every article as
  it is being written, drafts included. Every other reader (viewers, anonymous reading) sees only
  articles that have a published revision and are not retired, and sees them as that revision
  has them, even while a newer draft is being edited. `node(id:)`, one article and every list
  apply the same rule (`domain.records.register_read_rule`).
* The author is whoever created the article; the reviewer is whoever last published it.
* Publishing: someone other than the author publishes, unless the publisher is a manager or an
  admin (the guard `knowledge_publisher_not_author`). Sending back needs a reason.
* Every publish stores the next `ArticleRevision` (number, kind, title, body, keywords, who, when)
  in the same transaction; revisions are never changed.
* An edit that leaves a published article's content other than its last published revision's
  starts a new draft (the `revise` transition, in the same transaction); the published revision
  stays what readers see until the next publish.
  A retired article is not edited.
* An article of kind `known_error` is the knowledge base's copy of a known error: the known error
  writes it (`publish_generated`), published at once, with a new revision whenever what it says
  changes, so that it skips review (the known error, or its problem, is where it is worked on).
  The article mutations refuse to create one, or to edit or step one a known error publishes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core.access import Actor, Permission, Role
from core.errors import ValidationFailed
from core.knowledge import (
    ARTICLE_REVISION,
    KNOWLEDGE_ARTICLE,
    PUBLISHER_NOT_AUTHOR,
    SEND_BACK_REASON,
    ArticleKind,
    ArticleState,
)
from core.records import RecordType, check_properties
from core.states import GuardFailure, GuardRefused, register_guard
from domain import records
from graphdb import records as record_cypher
from graphdb.cypher import knowledge as cypher
from graphdb.write_path import Store, UnitOfWork

CONTENT = ("kind", "title", "body", "keywords")
_MAY_PUBLISH_OWN = frozenset({Role.MANAGER, Role.ADMIN})


def sees_drafts(actor: Actor) -> bool:
    """Whether the actor reads articles as they are being written."""
    return Permission.WORK_RECORDS in actor.permissions


def _articles_for(actor: Actor) -> record_cypher.Scope | None:
    return None if sees_drafts(actor) else cypher.PUBLISHED_ARTICLES


def _revisions_for(actor: Actor) -> record_cypher.Scope | None:
    return None if sees_drafts(actor) else cypher.REVISIONS_OF_LIVE_ARTICLES


records.register_read_rule(KNOWLEDGE_ARTICLE.label, _articles_for)
records.register_read_rule(ARTICLE_REVISION.label, _revisions_for)


# -- guards -------------------------------------------------------------------------------------


def _publisher_not_author(
    record: Mapping[str, Any], changes: Mapping[str, Any]
) -> GuardFailure | None:
    if changes.get("reviewerRole") in _MAY_PUBLISH_OWN:
        return None
    if changes.get("reviewerId") == record.get("authorId"):
        return GuardFailure(
            "state",
            "author_cannot_publish",
            "an article is published by someone other than its author (or by a manager)",
        )
    return None


def _send_back_reason(record: Mapping[str, Any], changes: Mapping[str, Any]) -> GuardFailure | None:
    if not (changes.get("sendBackReason") or "").strip():
        return GuardFailure(
            "sendBackReason", "required", "sending an article back needs a reason for its author"
        )
    return None


register_guard(PUBLISHER_NOT_AUTHOR, _publisher_not_author)
register_guard(SEND_BACK_REASON, _send_back_reason)


# -- writing ------------------------------------------------------------------------------------

GENERATED = "published_by_known_error"


def _refuse_generated_kind(values: Mapping[str, Any]) -> None:
    if values.get("kind") == ArticleKind.KNOWN_ERROR:
        raise ValidationFailed(
            "kind",
            GENERATED,
            "an article of kind known_error is published by its known error: enter the known "
            "error instead (createKnownError)",
        )


def _refuse_published_record(uow: UnitOfWork, article_id: str) -> None:
    publisher = cypher.publisher(uow.tx, article_id)
    if publisher is not None:
        raise ValidationFailed(
            "id",
            GENERATED,
            f"this article is how {publisher} is published: edit the known error (or the "
            "problem it follows) instead",
        )


def create_article(
    store: Store,
    actor: Actor,
    record: RecordType,
    values: Mapping[str, Any],
    links: Mapping[str, list[str]] | None = None,
    *,
    permission: Permission = Permission.WORK_RECORDS,
) -> dict[str, Any]:
    """A new draft, written by the actor."""
    _refuse_generated_kind(values)

    def author(uow: UnitOfWork, created: dict[str, Any]) -> None:
        uow.update(
            record.label,
            created["id"],
            {"authorId": uow.actor.id, "authorName": uow.actor.name},
            expected_version=None,
        )

    return records.create(store, actor, record, values, links, permission=permission, also=author)


def update_article(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    values: Mapping[str, Any],
    links: Mapping[str, list[str]] | None = None,
    *,
    version: int | None,
    permission: Permission = Permission.WORK_RECORDS,
) -> dict[str, Any]:
    """Change an article; new content for a published one starts its next draft."""
    _refuse_generated_kind(values)

    def follow(uow: UnitOfWork, updated: dict[str, Any]) -> None:
        _refuse_published_record(uow, record_id)
        state = updated.get("state")
        if state == ArticleState.RETIRED:
            raise ValidationFailed(
                "id", "retired", f"{updated.get('number')} is retired; it is no longer edited"
            )
        if state == ArticleState.PUBLISHED:
            published = cypher.revision_content(uow.tx, record_id, int(updated["revision"]))
            if any(updated.get(name) != published.get(name) for name in CONTENT):
                uow.transition(
                    record.label, record_id, ArticleState.DRAFT.value, expected_version=None
                )

    return records.update(
        store,
        actor,
        record,
        record_id,
        values,
        links,
        version=version,
        permission=permission,
        also=follow,
    )


def transition_article(
    store: Store,
    actor: Actor,
    record: RecordType,
    record_id: str,
    target: str,
    *,
    version: int | None,
    changes: Mapping[str, Any],
    permission: Permission = Permission.WORK_RECORDS,
) -> dict[str, Any]:
    """A step of the article's life; publishing also stores the next revision."""
    actor.require(permission)
    checked = check_properties(record, changes, creating=False, prefix="changes.", step=True)
    publishing = target == ArticleState.PUBLISHED

    def work(uow: UnitOfWork) -> dict[str, Any]:
        _refuse_published_record(uow, record_id)
        extra = dict(checked)
        if publishing:
            before = uow.lock(record.label, record_id)
            extra.update(
                reviewerId=actor.id,
                reviewerName=actor.name,
                reviewerRole=actor.role.value if actor.role else None,
                revision=int(before.get("revision") or 0) + 1,
                publishedAt=uow.at,
            )
        after = uow.transition(
            record.label, record_id, target, expected_version=version, changes=extra
        )
        if publishing:
            _store_revision(uow, after)
        return after

    try:
        return store.write(actor, work)
    except GuardRefused as refused:
        if refused.details.get("guard") != PUBLISHER_NOT_AUTHOR:
            raise
        # Not a property the caller sent: the step itself is refused.
        raise ValidationFailed("state", refused.reason, refused.message) from refused


def _store_revision(uow: UnitOfWork, article: Mapping[str, Any]) -> None:
    revision = uow.create(
        ARTICLE_REVISION.label,
        {
            "articleId": article["id"],
            "revision": article["revision"],
            **{name: article.get(name) for name in CONTENT},
            "publishedById": uow.actor.id,
            "publishedByName": uow.actor.name,
            "publishedAt": uow.at,
        },
    )
    uow.link(
        ARTICLE_REVISION.label,
        revision["id"],
        "REVISION_OF",
        KNOWLEDGE_ARTICLE.label,
        article["id"],
    )


def publish_generated(
    uow: UnitOfWork,
    article_id: str | None,
    content: Mapping[str, Any],
    ci_ids: Sequence[str],
) -> dict[str, Any]:
    """Publish what another record says (a known error) as an article, inside that record's unit
    of work: created published the first time, then the next revision whenever the content
    changes; it concerns exactly `ci_ids`. A retired article stays as it is. Returns it."""
    values = {name: content.get(name) for name in CONTENT}
    publisher = {
        "reviewerId": uow.actor.id,
        "reviewerName": uow.actor.name,
        "reviewerRole": uow.actor.role.value if uow.actor.role else None,
        "publishedAt": uow.at,
    }
    if article_id is None:
        # No review: the record it comes from is where the content is worked on, so the
        # article is published as it is written, by the state machine's end state.
        article = uow.create(
            KNOWLEDGE_ARTICLE.label,
            {
                **values,
                **publisher,
                "state": ArticleState.PUBLISHED.value,
                "authorId": uow.actor.id,
                "authorName": uow.actor.name,
                "revision": 1,
            },
        )
        republish = True
    else:
        article = uow.lock(KNOWLEDGE_ARTICLE.label, article_id)
        if article.get("state") == ArticleState.RETIRED:
            return article
        republish = any(article.get(name) != values[name] for name in CONTENT)
        if republish:
            article = uow.update(
                KNOWLEDGE_ARTICLE.label,
                article_id,
                {**values, **publisher, "revision": int(article.get("revision") or 0) + 1},
                expected_version=None,
            )
    [cis] = [link for link in KNOWLEDGE_ARTICLE.link_fields if link.name == "cis"]
    uow.set_links(KNOWLEDGE_ARTICLE.label, article["id"], cis, ci_ids, field="cis")
    if republish:
        _store_revision(uow, article)
    return uow.lock(KNOWLEDGE_ARTICLE.label, article["id"])


def retire_generated(uow: UnitOfWork, article_id: str) -> None:
    """The record an article publishes was withdrawn: so is the article (its revisions stay)."""
    article = uow.lock(KNOWLEDGE_ARTICLE.label, article_id)
    if article.get("state") != ArticleState.RETIRED:
        uow.transition(
            KNOWLEDGE_ARTICLE.label, article_id, ArticleState.RETIRED.value, expected_version=None
        )


# -- reading ------------------------------------------------------------------------------------


def revisions_of(
    store: Store, actor: Actor, article_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The published revisions of each article the actor may see, newest first."""
    visible = records.by_ids(store, actor, KNOWLEDGE_ARTICLE, article_ids)
    found = store.read(lambda tx: cypher.revisions_of(tx, list(visible)))
    return {i: found.get(i, []) for i in article_ids}


def revision(store: Store, actor: Actor, article_id: str, number: int) -> dict[str, Any] | None:
    """One published revision of an article, by its number."""
    revisions = revisions_of(store, actor, [article_id])[article_id]
    return next((r for r in revisions if r["revision"] == number), None)
