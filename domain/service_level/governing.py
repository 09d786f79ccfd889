"""Which agreement applies: the SLA that governs a CI (or a Service) at a priority, the OLA behind
it and the team that supports it, found through the graph and explained.

A CI's Services are the ones its failure would take down, by the CMDB's impact rules
(`domain.impact`: propagation by relationship type, redundancy groups); a Service asked about
directly is its own. Only active agreements govern, and only through current terms that set a
target at the priority. Of several candidates the strictest promise wins (`RULE`), and every
candidate that lost is listed with the rule it lost by, so that an ambiguity is visible.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neo4j import ManagedTransaction

from core.access import Actor, Permission
from core.agreement_terms import EscalationClock, target_property
from core.errors import NotFound, ValidationFailed
from core.priority import Priority
from domain import impact
from graphdb.cypher import ci as ci_cypher
from graphdb.cypher import governing as governing_cypher
from graphdb.write_path import Store

# As far as an impact analysis looks by default, and as far as a blast radius counts.
MAX_DEPTH = 6

ACTIVE = "active"

RULE = (
    "Only active SLAs govern, through current terms that set a response or resolution target at "
    "the priority. Of several, the strictest promise wins: the shortest resolution target at that "
    "priority, then the shortest response target, then the Service nearest the CI (fewest "
    "relationships), then the lowest SLA number. Behind it, the active OLA supporting it whose "
    "team supports that Service, then the one with the shortest resolution target, then the "
    "lowest number; its team supports the Service, or without an OLA the active team supporting "
    "the Service with the lowest number."
)

_CI_SHOWN = ("id", "name", "number", "ciClass")


class Rule(enum.StrEnum):
    """What decided for or against an SLA."""

    ONLY_CANDIDATE = "only_candidate"
    STRICTEST_RESOLUTION = "strictest_resolution"
    STRICTEST_RESPONSE = "strictest_response"
    NEAREST_SERVICE = "nearest_service"
    LOWEST_NUMBER = "lowest_number"
    NOT_ACTIVE = "not_active"
    NO_TERMS = "no_terms"
    NO_TARGET = "no_target"


# The ranking rules in the order they are applied.
_RANKING = (
    Rule.STRICTEST_RESOLUTION,
    Rule.STRICTEST_RESPONSE,
    Rule.NEAREST_SERVICE,
    Rule.LOWEST_NUMBER,
)


class NoAgreement(enum.StrEnum):
    """Why nothing governs."""

    NO_SERVICE = "no_service"
    NO_SLA = "no_sla"
    NO_ACTIVE_SLA = "no_active_sla"
    NO_TARGET = "no_target"


@dataclass(frozen=True)
class Ref:
    """A node on the way: its stored id, label, number and name (a CI also its class)."""

    id: str
    label: str
    name: str
    number: str | None = None
    ci_class: str | None = None

    @property
    def shown(self) -> str:
        return f"{self.number} {self.name}" if self.number and self.label != "CI" else self.name

    @classmethod
    def of(cls, label: str, props: Mapping[str, Any]) -> Ref:
        return cls(
            str(props["id"]),
            label,
            str(props.get("name") or props["id"]),
            props.get("number"),
            props.get("ciClass"),
        )


@dataclass(frozen=True)
class Terms:
    id: str
    version: int
    response: int | None  # minutes of business time at the priority; None: no target
    resolution: int | None

    @property
    def has_target(self) -> bool:
        return self.response is not None or self.resolution is not None

    @property
    def shown(self) -> str:
        def minutes(value: int | None) -> str:
            return "none" if value is None else f"{value} min"

        return (
            f"terms version {self.version}: resolution {minutes(self.resolution)}, "
            f"response {minutes(self.response)}"
        )

    @classmethod
    def of(cls, props: Mapping[str, Any] | None) -> Terms | None:
        if props is None:
            return None
        return cls(
            str(props["id"]),
            int(props["version"]),
            _minutes(props.get("response")),
            _minutes(props.get("resolution")),
        )


def _minutes(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class PathStep:
    """One relationship on the way from the CI asked about, crossed from `start` to `end`;
    `forward` when the relationship points that way, `(start)-[:TYPE]->(end)`."""

    start: Ref
    type: str
    end: Ref
    forward: bool

    @property
    def shown(self) -> str:
        arrow = f"→ {self.type} →" if self.forward else f"← {self.type} ←"
        return f"{arrow} {self.end.name}"


@dataclass
class Candidate:
    """An SLA covering one of the Services reached, and why it governs or does not."""

    sla: Ref
    state: str | None
    service: Ref
    depth: int
    terms: Terms | None
    governs: bool = False
    rule: Rule = Rule.ONLY_CANDIDATE
    reason: str = ""


@dataclass
class Governance:
    priority: Priority
    asked: Ref
    rule: str = RULE
    sla: Ref | None = None
    terms: Terms | None = None
    service: Ref | None = None
    ola: Ref | None = None
    ola_terms: Terms | None = None
    team: Ref | None = None
    decided_by: Rule | None = None
    none_because: NoAgreement | None = None
    path: list[PathStep] = field(default_factory=list)
    explanation: str = ""
    candidates: list[Candidate] = field(default_factory=list)
    services: list[tuple[Ref, int]] = field(default_factory=list)  # every Service reached
    cis: dict[str, dict[str, Any]] = field(default_factory=dict)  # the asked CI and the Service


# -- the decision -----------------------------------------------------------------------------


_LAST = float("inf")


def _ranking_key(c: Candidate) -> tuple[Any, ...]:
    assert c.terms is not None
    return (
        _LAST if c.terms.resolution is None else c.terms.resolution,
        _LAST if c.terms.response is None else c.terms.response,
        c.depth,
        (c.sla.number is None, c.sla.number or "", c.sla.id),
    )


def _why_lost(loser: Candidate, winner: Candidate, priority: Priority) -> tuple[Rule, str]:
    lost, won = _ranking_key(loser), _ranking_key(winner)
    rule = next(r for r, a, b in zip(_RANKING, lost, won, strict=True) if a != b)
    assert loser.terms is not None and winner.terms is not None
    if rule is Rule.STRICTEST_RESOLUTION:
        reason = (
            f"its resolution target at {priority} is {_target(loser.terms.resolution)}, "
            f"{winner.sla.shown}'s is {_target(winner.terms.resolution)}"
        )
    elif rule is Rule.STRICTEST_RESPONSE:
        reason = (
            f"same resolution target; its response target at {priority} is "
            f"{_target(loser.terms.response)}, {winner.sla.shown}'s is "
            f"{_target(winner.terms.response)}"
        )
    elif rule is Rule.NEAREST_SERVICE:
        reason = (
            f"same targets; its Service {loser.service.name} is {_hops(loser.depth)} away, "
            f"{winner.sla.shown}'s {winner.service.name} {_hops(winner.depth)}"
        )
    else:
        reason = f"same targets and distance; {winner.sla.shown} has the lower number"
    return rule, reason


def _target(minutes: int | None) -> str:
    return "not set" if minutes is None else f"{minutes} min"


def _hops(depth: int) -> str:
    return "1 relationship" if depth == 1 else f"{depth} relationships"


def _candidates(
    services: Sequence[tuple[Ref, int]], behind: Mapping[str, Mapping[str, Any]]
) -> list[Candidate]:
    """One candidate per SLA, at the nearest of the Services it covers."""
    found: dict[str, Candidate] = {}
    for service, depth in services:
        for sla in behind[service.id]["slas"]:
            known = found.get(sla["id"])
            if known is not None and (known.depth, known.service.name) <= (depth, service.name):
                continue
            found[sla["id"]] = Candidate(
                Ref.of("SLA", sla), sla.get("state"), service, depth, Terms.of(sla.get("terms"))
            )
    return sorted(found.values(), key=lambda c: (c.depth, c.sla.number or "", c.sla.id))


def _judge(candidates: list[Candidate], priority: Priority) -> Candidate | None:
    eligible = []
    for c in candidates:
        if c.state != ACTIVE:
            c.rule = Rule.NOT_ACTIVE
            c.reason = f"it is {c.state or 'without a state'}: only active SLAs govern"
        elif c.terms is None:
            c.rule = Rule.NO_TERMS
            c.reason = "it has no current terms"
        elif not c.terms.has_target:
            c.rule = Rule.NO_TARGET
            c.reason = f"its current terms (version {c.terms.version}) set no target at {priority}"
        else:
            eligible.append(c)
    if not eligible:
        return None
    eligible.sort(key=_ranking_key)
    winner = eligible[0]
    winner.governs = True
    for loser in eligible[1:]:
        loser.rule, loser.reason = _why_lost(loser, winner, priority)
    if len(eligible) == 1:
        winner.rule = Rule.ONLY_CANDIDATE
        winner.reason = f"the only active SLA with a target at {priority}"
    else:
        winner.rule = eligible[1].rule
        winner.reason = (
            f"the strictest of {len(eligible)} active SLAs with a target at {priority}, "
            f"by {winner.rule.replace('_', ' ')}"
        )
    return winner


def _ola_key(ola: Mapping[str, Any]) -> tuple[Any, ...]:
    terms = Terms.of(ola.get("terms"))
    resolution = terms.resolution if terms and terms.resolution is not None else _LAST
    number = ola.get("number")
    return (not ola["teamSupportsService"], resolution, number is None, number or "", ola["id"])


def _team_key(team: Mapping[str, Any]) -> tuple[Any, ...]:
    number = team.get("number")
    return (number is None, number or "", team["id"])


def decide(
    governance: Governance,
    services: Sequence[tuple[Ref, int]],
    behind: Mapping[str, Mapping[str, Any]],
    path_to: Callable[[Ref, int], list[PathStep]],
    spared: Sequence[Ref] = (),
) -> Governance:
    """Fill in what governs, given the Services reached (each at its depth), what stands behind
    each Service as `graphdb.cypher.governing` reads it, how to find the path to the chosen
    Service, and the CIs that redundancy kept up."""
    priority = governance.priority
    governance.services = list(services)
    governance.candidates = _candidates(governance.services, behind)
    winner = _judge(governance.candidates, priority)
    asked = governance.asked
    if winner is None:
        governance.none_because, governance.explanation = _nothing_governs(
            governance, [s for s, _ in services], spared
        )
        return governance
    governance.sla, governance.terms, governance.service = winner.sla, winner.terms, winner.service
    governance.decided_by = winner.rule
    path = path_to(winner.service, winner.depth)
    service, sla = winner.service, winner.sla
    path = [*path, PathStep(service, "COVERS", sla, False)]
    row = behind[service.id]
    slas = {s["id"]: s for s in row["slas"]}
    olas = sorted((o for o in slas[sla.id]["olas"] if o.get("state") == ACTIVE), key=_ola_key)
    sentences = [_reaching(asked, service, path[:-1])]
    assert winner.terms is not None
    sentences.append(
        f"{sla.shown} covers {service.name} and governs at {priority} ({winner.terms.shown}), "
        f"{winner.reason}."
    )
    if olas:
        chosen = olas[0]
        ola = governance.ola = Ref.of("OLA", chosen)
        governance.ola_terms = Terms.of(chosen.get("terms"))
        path.append(PathStep(sla, "SUPPORTS", ola, False))
        team = chosen.get("team")
        if team is not None:
            governance.team = Ref.of("Team", team)
            path.append(PathStep(ola, "PROVIDED_BY", governance.team, True))
            supports = (
                f", which supports {service.name}"
                if chosen["teamSupportsService"]
                else f", which does not itself support {service.name}"
            )
            sentences.append(
                f"{ola.shown} underpins it, provided by {governance.team.shown}{supports}."
            )
        else:
            sentences.append(f"{ola.shown} underpins it but names no team.")
    else:
        teams = sorted((t for t in row["teams"] if t.get("state") == ACTIVE), key=_team_key)
        if teams:
            governance.team = Ref.of("Team", teams[0])
            path.append(PathStep(service, "SUPPORTS_SERVICE", governance.team, False))
            sentences.append(
                f"No active OLA underpins {sla.shown}; {governance.team.shown} supports "
                f"{service.name}."
            )
        else:
            sentences.append(
                f"No active OLA underpins {sla.shown} and no active team supports {service.name}."
            )
    governance.path = path
    governance.explanation = " ".join(sentences)
    return governance


def _reaching(asked: Ref, service: Ref, path: Sequence[PathStep]) -> str:
    if not path:
        return f"{service.name} is a Service."
    chain = " ".join([asked.name, *(s.shown for s in path)])
    return f"A failure of {asked.name} takes down the Service {service.name}: {chain}."


def _names(refs: Sequence[Ref]) -> str:
    return ", ".join(r.name for r in refs)


def _nothing_governs(
    governance: Governance, services: Sequence[Ref], spared: Sequence[Ref]
) -> tuple[NoAgreement, str]:
    asked, priority = governance.asked, governance.priority
    if not services:
        text = f"No agreement governs {asked.name}: its failure takes down no Service"
        if spared:
            text += f" (redundancy keeps {_names(spared)} up)"
        return NoAgreement.NO_SERVICE, text + "."
    cands = governance.candidates
    reached = _names(services)
    if not cands:
        return NoAgreement.NO_SLA, f"No agreement governs {asked.name}: no SLA covers {reached}."
    if all(c.rule is Rule.NOT_ACTIVE for c in cands):
        return (
            NoAgreement.NO_ACTIVE_SLA,
            f"No agreement governs {asked.name}: no active SLA covers {reached}.",
        )
    return (
        NoAgreement.NO_TARGET,
        f"No agreement governs {asked.name} at {priority}: no active SLA covering {reached} "
        f"sets a target at {priority}.",
    )


# -- reading the graph ------------------------------------------------------------------------


def _impact_steps(steps: Sequence[impact.Step], names: Mapping[str, Ref]) -> list[PathStep]:
    """Impact's steps (each relationship as stored, and whether the walk crossed it from its
    source) as walked from the failing CI."""
    return [
        PathStep(
            names[s.source if s.forward else s.target],
            s.type,
            names[s.target if s.forward else s.source],
            s.forward,
        )
        for s in steps
    ]


def _one_of(ci_id: str | None, service_id: str | None) -> None:
    if ci_id is None and service_id is None:
        raise ValidationFailed("ci", "ci_or_service_required", "give a ci or a service")
    if ci_id is not None and service_id is not None:
        raise ValidationFailed(
            "service", "ci_and_service_both_given", "give a ci or a service, not both"
        )


def governing_agreement(
    store: Store,
    actor: Actor,
    priority: Priority,
    *,
    ci_id: str | None = None,
    service_id: str | None = None,
) -> Governance:
    """The agreement that governs the CI (or the Service, stored ids) at `priority`.

    Read in one transaction, so that the impact walk and the agreements are one consistent
    picture. The walk that finds the Services explains nothing; once the governing Service is
    known, the way to that one alone is explained, because explaining every CI a failure
    reaches reads the relationships of thousands of CIs for a wide failure.
    """
    actor.require(Permission.READ)
    _one_of(ci_id, service_id)
    return store.read(lambda tx: govern(tx, priority, ci_id=ci_id, service_id=service_id))


def govern(
    tx: ManagedTransaction,
    priority: Priority,
    *,
    ci_id: str | None = None,
    service_id: str | None = None,
) -> Governance:
    """`governing_agreement` inside a transaction the caller holds (opening an incident decides
    its agreement in the transaction that writes it)."""
    _one_of(ci_id, service_id)
    if service_id is not None:
        reached = _asked_service(tx, priority, service_id)
    else:
        assert ci_id is not None
        reached = _asked_ci(tx, priority, ci_id)
    governance = reached.governance
    behind = {
        row["service"]["id"]: row
        for row in governing_cypher.behind_services(
            tx,
            [s.id for s, _ in reached.services],
            response=target_property(EscalationClock.RESPONSE, priority),
            resolution=target_property(EscalationClock.RESOLUTION, priority),
        )
    }
    decide(governance, reached.services, behind, reached.path_to, reached.spared)
    shown = [governance.asked.id]
    if governance.service is not None:
        shown.append(governance.service.id)
    governance.cis = ci_cypher.by_ids(tx, shown)
    return governance


@dataclass
class _Reached:
    governance: Governance
    services: list[tuple[Ref, int]]
    path_to: Callable[[Ref, int], list[PathStep]]
    spared: list[Ref] = field(default_factory=list)


def _asked_service(tx: ManagedTransaction, priority: Priority, service_id: str) -> _Reached:
    found = ci_cypher.by_ids(tx, [service_id]).get(service_id)
    if found is None:
        raise NotFound("CI", service_id, field="service")
    if found.get("ciClass") != "Service":
        raise ValidationFailed(
            "service",
            "not_a_service",
            f"{found.get('name')!r} is a {found.get('ciClass')}, not a Service; ask by ci",
        )
    service = Ref.of("CI", found)
    return _Reached(Governance(priority, service), [(service, 0)], lambda _s, _d: [])


def _asked_ci(tx: ManagedTransaction, priority: Priority, ci_id: str) -> _Reached:
    result, shown = impact.failure_reach(
        tx, ci_id, max_depth=MAX_DEPTH, explain=False, ci_properties=_CI_SHOWN
    )
    if ci_id not in shown:
        raise NotFound("CI", ci_id, field="ci")
    refs = {ci: Ref.of("CI", row["ci"]) for ci, row in shown.items()}
    services = [(refs[ci_id], 0)] if shown[ci_id]["service"] else []
    services += [(refs[r.ci_id], r.depth) for r in result.reached if shown[r.ci_id]["service"]]

    def path_to(service: Ref, depth: int) -> list[PathStep]:
        if depth == 0 or result.explain is None:
            return []
        result.explain([service.id])
        paths = next(r.paths for r in result.reached if r.ci_id == service.id)
        return _impact_steps(paths[0], refs) if paths else []

    return _Reached(
        Governance(priority, refs[ci_id]),
        services,
        path_to,
        [refs[s.ci_id] for s in result.spared],
    )
