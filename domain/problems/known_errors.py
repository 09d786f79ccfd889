"""Known errors: generated from a problem with a root cause and a workaround and kept in step
with it, entered by hand too, published in the knowledge base, and matched to new incidents by
topology, then by text.

* A problem with both a root cause and a workaround generates its known error once (unless one
  entered by hand documents it already): title and symptoms from the problem's title and
  description, the same root cause and workaround, applying to the problem's CIs at fault.
  Every later save or step of the problem rewrites it in the same transaction, so the two never
  disagree; its root cause and workaround are therefore edited on the problem, and a direct edit
  is refused. A known error entered by hand is edited directly.
* Every known error publishes a knowledge article of kind `known_error` (PUBLISHED_AS), about the
  same CIs, republished as a new revision in the same transaction whenever the known error
  changes; the knowledge search finds it beside FAQs and process documents.
* As an incident opens, the active known errors that apply to its CI or to anything the CI needs
  (the CMDB's impact rules, `domain.impact`) match it, nearest first, then those for the CI's
  class (and version, where they name one); then, among the others, those whose text shares
  enough of the incident's words. Each match is a MATCHES relationship saying how and why, ranked,
  and the incident shows the workaround of its best match, read from the known error each time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.access import Actor, Permission
from core.errors import ValidationFailed
from core.incidents import INCIDENT
from core.incidents import OPEN_STATES as INCIDENT_OPEN_STATES
from core.knowledge import KNOWLEDGE_ARTICLE, ArticleKind
from core.problems import KNOWN_ERROR, KnownErrorMatchKind, KnownErrorState
from core.records import RecordType, check_properties
from domain import impact, records
from domain.knowledge import articles
from domain.service_desk.matching import meaningful_words
from graphdb.cypher import known_errors as cypher
from graphdb.write_path import Store, UnitOfWork

ACTIVE = (KnownErrorState.ACTIVE.value,)
# Edited on the problem for a generated known error.
FOLLOWS_PROBLEM = ("rootCause", "workaround")
_LINKS = {link.name: link for link in KNOWN_ERROR.link_fields}

# Text matching: how many of an incident's meaningful words a known error's text must have. At
# least two, so that one common word ("database") matches nothing; half of them for a short
# incident, but no more than four for a long description, whose other words are its own story.
TEXT_MIN_WORDS = 2
TEXT_ENOUGH_WORDS = 4
TEXT_SHARE = 0.5
TEXT_CANDIDATES = 20  # the best of the index's answers that are weighed
MAX_TEXT_MATCHES = 3


# -- following a problem ------------------------------------------------------------------------


def _has(value: Any) -> bool:
    return bool(str(value or "").strip())


def _from_problem(problem: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "title": problem["title"],
        "symptoms": problem.get("description"),
        "rootCause": problem.get("rootCause"),
        "workaround": problem.get("workaround"),
    }


def follow_problem(uow: UnitOfWork, problem: Mapping[str, Any]) -> None:
    """After every save of a problem: its known error generated or brought in step."""
    found = cypher.documenting(uow.tx, problem["id"])
    if found is None:
        if _has(problem.get("rootCause")) and _has(problem.get("workaround")):
            _generate(uow, problem)
        return
    if not found.get("generated") or found.get("state") == KnownErrorState.RETIRED:
        return
    changed = uow.update(
        KNOWN_ERROR.label, found["id"], _from_problem(problem), expected_version=None
    )
    relinked = uow.set_links(
        KNOWN_ERROR.label,
        found["id"],
        _LINKS["cis"],
        cypher.at_fault(uow.tx, problem["id"]),
        field="cisAtFault",
    )
    if relinked and changed["version"] == found["version"]:
        uow.touch(KNOWN_ERROR.label, found["id"])
    publish(uow, found["id"])


def _generate(uow: UnitOfWork, problem: Mapping[str, Any]) -> None:
    values = check_properties(KNOWN_ERROR, _from_problem(problem), creating=True)
    created = records.create_in(
        uow,
        KNOWN_ERROR,
        values,
        [
            (_LINKS["cis"], cypher.at_fault(uow.tx, problem["id"])),
            (_LINKS["problem"], [problem["id"]]),
        ],
        {"generated": True},
    )
    # The incidents its problem causes match it as that (`problem`) before the topology
    # matching of `publish` takes the other open incidents on its CIs.
    match_caused(uow, problem["id"])
    publish(uow, created["id"])


def match_caused(
    uow: UnitOfWork, problem_id: str, incident_ids: Sequence[str] | None = None
) -> None:
    """The open incidents a problem causes (these, when given) match its active known errors,
    so that their workaround shows on them too: when the known error appears, and when an
    incident is linked to the problem after it."""
    for row in cypher.unmatched_caused(
        uow.tx, problem_id, incident_ids, INCIDENT_OPEN_STATES, ACTIVE
    ):
        uow.link(
            INCIDENT.label,
            row["incident"],
            "MATCHES",
            KNOWN_ERROR.label,
            row["ke"],
            {
                "how": KnownErrorMatchKind.PROBLEM.value,
                "reason": f"{row['number']} documents {row['problem']}, which causes it",
                "rank": row["rank"],
            },
        )


# -- writing known errors -----------------------------------------------------------------------


def saved(uow: UnitOfWork, known_error: dict[str, Any]) -> None:
    """After a known error is entered or steps (`also` of createKnownError and
    transitionKnownError): its article published, or retired with it."""
    publish(uow, known_error["id"])


def update_known_error(
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
    """`updateKnownError`: a known error entered by hand changes as given; a generated one
    refuses a new root cause or workaround (its problem is where they are edited). Its article
    is republished in the same transaction."""

    def follow(uow: UnitOfWork, updated: dict[str, Any]) -> None:
        if updated.get("generated"):
            given = [name for name in FOLLOWS_PROBLEM if values.get(name) is not None]
            if links and links.get("problem") is not None:
                given.append("problem")
            if given == ["problem"]:
                raise ValidationFailed(
                    "problem",
                    "follows_problem",
                    f"{updated['number']} was generated by its problem and documents it only",
                )
            if given:
                problem = _problem_number(uow, record_id)
                raise ValidationFailed(
                    given[0],
                    "follows_problem",
                    f"{updated['number']} was generated by {problem} and follows it: edit the "
                    f"problem's {given[0]} instead (updateProblem)",
                )
        publish(uow, record_id)

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


def _problem_number(uow: UnitOfWork, ke_id: str) -> str:
    return cypher.problem_number(uow.tx, ke_id) or "its problem"


# -- the knowledge article ----------------------------------------------------------------------

_SECTIONS = (("symptoms", "Symptoms"), ("rootCause", "Root cause"), ("workaround", "Workaround"))


def _body(ke: Mapping[str, Any], ci_names: Sequence[str]) -> str:
    parts = [
        f"## {heading}\n\n{ke[name].strip()}" for name, heading in _SECTIONS if _has(ke.get(name))
    ]
    scope = []
    if ci_names:
        scope.append("Applies to " + ", ".join(ci_names) + ".")
    if _has(ke.get("ciClass")):
        version = f" version {ke['ciVersion']}" if _has(ke.get("ciVersion")) else ""
        scope.append(f"Applies to every {ke['ciClass']}{version}.")
    if scope:
        parts.append("## Scope\n\n" + " ".join(scope))
    return "\n\n".join(parts)


def publish(uow: UnitOfWork, ke_id: str) -> None:
    """The known error's article brought in step with it: written, republished where what it
    says changed, or retired with it; and, while it is active, the open incidents on its CIs or
    below them matched to it."""
    ke = uow.lock(KNOWN_ERROR.label, ke_id)
    article_id = cypher.article_of(uow.tx, ke_id)
    if ke.get("state") == KnownErrorState.RETIRED:
        if article_id is not None:
            articles.retire_generated(uow, article_id)
        return
    cis = cypher.applies_to(uow.tx, ke_id)
    names = [str(c["name"]) for c in cis]
    keywords = [ke["number"], *names]
    keywords += [str(ke[k]) for k in ("ciClass", "ciVersion") if _has(ke.get(k))]
    article = articles.publish_generated(
        uow,
        article_id,
        {
            "kind": ArticleKind.KNOWN_ERROR.value,
            "title": ke["title"],
            "body": _body(ke, names),
            "keywords": list(dict.fromkeys(keywords)),
        },
        [str(c["id"]) for c in cis],
    )
    if article_id is None:
        uow.link(KNOWN_ERROR.label, ke_id, "PUBLISHED_AS", KNOWLEDGE_ARTICLE.label, article["id"])
    _match_open_below(uow, ke, {str(c["id"]): str(c["name"]) for c in cis})


def _match_open_below(uow: UnitOfWork, ke: Mapping[str, Any], cis: Mapping[str, str]) -> None:
    """Open incidents on the known error's CIs (id → name), or on CIs that need them, match it
    by topology as soon as it is active, as an incident opening later would."""
    if ke.get("state") not in ACTIVE or not cis:
        return
    nearest: dict[str, tuple[int, str]] = {}  # a CI → (hops, the known error's CI it needs)
    for applies in sorted(cis, key=lambda c: cis[c]):
        reach = [(applies, 0), *impact.dependant_reach(uow.tx, applies, max_depth=impact.MAX_DEPTH)]
        for ci, hops in reach:
            if ci not in nearest or hops < nearest[ci][0]:
                nearest[ci] = (hops, applies)
    rows = cypher.unmatched_open_on(uow.tx, ke["id"], sorted(nearest), INCIDENT_OPEN_STATES)
    if not rows:
        return
    facts = cypher.ci_facts(uow.tx, sorted({row["ci"] for row in rows}))
    links = []
    for row in rows:
        hops, applies = nearest[row["ci"]]
        where = _where(cis[applies], hops, str(facts.get(row["ci"], {}).get("name") or row["ci"]))
        links.append(
            {
                "s": row["incident"],
                "t": ke["id"],
                "props": {
                    "how": KnownErrorMatchKind.TOPOLOGY.value,
                    "reason": _said(ke, where),
                    "rank": row["rank"],
                },
            }
        )
    uow.link_many(INCIDENT.label, "MATCHES", KNOWN_ERROR.label, links)
    uow.audit_many(
        [
            ("relate", INCIDENT.label, link["s"], None, {"type": "MATCHES", "targetId": ke["id"]})
            for link in links
        ]
    )


def _where(applies: str, hops: int, ci: str) -> str:
    """Why a known error on CI `applies` fits an incident on CI `ci`, `hops` below it."""
    if hops == 0:
        return f"applies to its CI {applies}"
    return f"applies to {applies}, which its CI {ci} needs ({hops} hop(s) upstream)"


# -- matching new incidents ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    ke: dict[str, Any]
    how: KnownErrorMatchKind
    reason: str


def match_incident(
    uow: UnitOfWork,
    incident_id: str,
    ci_id: str | None,
    needs: Mapping[str, int] | None = None,
) -> None:
    """As an incident opens: the known errors that apply to it linked (MATCHES). `needs` is
    what its CI needs with the hops to each, when the caller walked it already."""
    incident = uow.lock(INCIDENT.label, incident_id)
    found = _by_topology(uow, ci_id, needs) if ci_id is not None else []
    seen = {m.ke["id"] for m in found}
    found += [m for m in _by_text(uow, incident) if m.ke["id"] not in seen]
    for rank, match in enumerate(found, start=1):
        uow.link(
            INCIDENT.label,
            incident_id,
            "MATCHES",
            KNOWN_ERROR.label,
            match.ke["id"],
            {"how": match.how.value, "reason": match.reason, "rank": rank},
        )


def _by_topology(uow: UnitOfWork, ci_id: str, needs: Mapping[str, int] | None) -> list[_Match]:
    hops = {ci_id: 0}
    walked = (
        needs.items()
        if needs is not None
        else impact.dependency_reach(uow.tx, ci_id, max_depth=impact.MAX_DEPTH)
    )
    for reached, depth in walked:
        hops.setdefault(reached, depth)
    facts = cypher.ci_facts(uow.tx, sorted(hops))

    def name(ci: str) -> str:
        return str(facts.get(ci, {}).get("name") or ci)

    on_cis = []
    for row in cypher.applying_to(uow.tx, sorted(hops), ACTIVE):
        at = min(row["cis"], key=lambda c: (hops[c], name(c)))
        where = _where(name(at), hops[at], name(ci_id))
        on_cis.append(
            (hops[at], _Match(row["ke"], KnownErrorMatchKind.TOPOLOGY, _said(row["ke"], where)))
        )
    on_cis.sort(key=lambda pair: pair[0])
    out = [m for _, m in on_cis]
    seen = {m.ke["id"] for m in out}
    ci = facts.get(ci_id)
    if ci is not None and ci.get("ciClass"):
        version = ci.get("version")
        for ke in cypher.of_class(uow.tx, ci["ciClass"], str(version) if version else None, ACTIVE):
            if ke["id"] in seen:
                continue
            which = (
                f"{ke['ciClass']} version {ke['ciVersion']}"
                if ke.get("ciVersion")
                else ke["ciClass"]
            )
            out.append(
                _Match(
                    ke,
                    KnownErrorMatchKind.TOPOLOGY,
                    _said(ke, f"applies to every {which}, and its CI {name(ci_id)} is one"),
                )
            )
    return out


def _said(ke: Mapping[str, Any], why: str) -> str:
    return f"{ke['number']} ({ke['title']}) {why}"


def _contains(text: str, word: str) -> bool:
    """Whether a word of the text starts with `word`, as the index's prefix queries match."""
    return re.search(rf"(?<![^\W_]){re.escape(word)}", text, re.IGNORECASE) is not None


def _by_text(uow: UnitOfWork, incident: Mapping[str, Any]) -> list[_Match]:
    words = meaningful_words(f"{incident.get('title') or ''} {incident.get('description') or ''}")
    if len(words) < TEXT_MIN_WORDS:
        return []
    needed = max(TEXT_MIN_WORDS, min(TEXT_ENOUGH_WORDS, math.ceil(len(words) * TEXT_SHARE)))
    lucene = " OR ".join(f"{w} OR {w}*" for w in words)
    weighed = []
    for row in cypher.by_text(uow.tx, lucene, ACTIVE, TEXT_CANDIDATES):
        ke = row["ke"]
        text = " ".join(
            str(ke.get(k) or "") for k in ("title", "symptoms", "rootCause", "workaround")
        )
        shared = [w for w in words if _contains(text, w)]
        if len(shared) >= needed:
            weighed.append((len(shared), row["score"], ke, shared))
    weighed.sort(key=lambda w: (-w[0], -w[1], w[2]["number"]))
    return [
        _Match(
            ke,
            KnownErrorMatchKind.TEXT,
            _said(
                ke,
                f"shares {count} of the {len(words)} words of the incident's title and "
                f"description ({', '.join(shared)})",
            ),
        )
        for count, _, ke, shared in weighed[:MAX_TEXT_MATCHES]
    ]


# -- reading ------------------------------------------------------------------------------------


def matches_of(
    store: Store, actor: Actor, incident_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The known errors each incident matched, best first: {"how", "reason", "ke"}, the active
    ones first, so that the first one's workaround is the one to try."""
    actor.require(Permission.READ)
    return store.read(lambda tx: cypher.matches_of(tx, list(incident_ids), ACTIVE))
