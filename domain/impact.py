"""Impact analysis: what a failing CI takes down with it, and why.

A failure travels along a relationship as its type declares (`Propagation`). A CI that needs a
failed CI through a relationship outside any redundancy group fails too, one hop further away. A
CI that reaches failed CIs only through members of a redundancy group stays up while at least
`minUp` members of that group are up, as iTop models redundancy; the answer then says which
group spared it, and it fails one hop after the member whose loss exhausts the group.

The graph is read in as few round trips as possible: one walk over the relationships outside
redundancy groups finds every CI that certainly fails, with the groups standing at its edge; the
groups are judged here; a walk starts again only from a CI that an exhausted group brings down.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from neo4j import ManagedTransaction

from core.access import Actor, Permission
from core.errors import LimitExceeded, NotFound
from domain.cmdb import RELATIONSHIP_TYPES, Propagation, relationship_type
from graphdb.cypher import ci as ci_cypher
from graphdb.write_path import Store

MAX_DEPTH = 10
MAX_PATHS_PER_CI = 3
HARD_MAX_RESULTS = 100_000


class Direction(enum.StrEnum):
    DOWNSTREAM = "downstream"  # who is hurt when this CI fails
    UPSTREAM = "upstream"  # what this CI needs (its dependencies)


class Edge(NamedTuple):  # a tuple: an impact answer may hold tens of thousands
    """A relationship `(source)-[type]->(target)` through which a dependant needs `provider`."""

    provider: str
    source: str
    type: str
    target: str
    group: str | None = None
    min_up: int = 1


@dataclass(frozen=True)
class Step:
    source: str
    type: str
    target: str
    # Whether the walk crosses the relationship from its source to its target.
    forward: bool = True


class PathDirection(enum.StrEnum):
    ANY = "any"  # any relationship, either way: how two CIs are connected at all
    DOWNSTREAM = "downstream"  # the way a failure of the first CI travels to the second
    UPSTREAM = "upstream"  # the way the first CI needs the second


@dataclass
class Reached:
    ci_id: str
    depth: int
    # Filled when the caller asks for explanations: reading the relationships behind them costs
    # a second walk over every affected CI.
    reason: str | None = None
    parents: list[tuple[str, Edge]] = field(default_factory=list)
    paths: list[list[Step]] = field(default_factory=list)


@dataclass
class Spared:
    ci_id: str
    group: str
    members: int
    up: int
    min_up: int

    @property
    def reason(self) -> str:
        return (
            f"redundancy group {self.group!r} keeps it up: {self.up} of {self.members} "
            f"members up, {self.min_up} needed"
        )


@dataclass
class ImpactResult:
    root: str
    direction: Direction
    reached: list[Reached]
    spared: list[Spared]
    # Downstream: fills in the reasons and paths of the given reached CIs afterwards, while the
    # transaction that read the graph is open (an answer may need the way to one CI of many).
    explain: Callable[[Collection[str] | None], None] | None = field(
        default=None, repr=False, compare=False
    )


@dataclass(frozen=True)
class Walk:
    """What a walk reached: each CI at its depth, and the redundancy groups standing at the edge
    of what it reached, as (dependant, group, the members with the relationship to each)."""

    reached: list[tuple[str, int]]
    groups: list[tuple[str, str, dict[str, Edge]]] = field(default_factory=list)


class PropagationGraph(Protocol):
    """What the analysis reads, whatever stores it."""

    def walk(self, starts: Sequence[tuple[str, int]], *, through_groups: bool) -> Walk:
        """CIs reached from the starts (CI, depth), up to the maximum depth."""

    def providers(self, ids: Sequence[str]) -> dict[str, list[Edge]]:
        """For each CI, the relationships through which it needs another one."""

    def name(self, ci_id: str) -> str:
        """What people call a CI the walks reached, for the reasons."""


def _as_seen_by(ci_id: str, edge: Edge) -> str:
    """The relationship as the CI at one of its ends says it of the other."""
    return RELATIONSHIP_TYPES[edge.type].seen_from(edge.source == ci_id)


def check_request(max_depth: int, relationship_types: Iterable[str] | None) -> list[str]:
    if max_depth < 1 or max_depth > MAX_DEPTH:
        raise LimitExceeded("maxDepth", MAX_DEPTH, f"maxDepth must be between 1 and {MAX_DEPTH}")
    names = list(relationship_types) if relationship_types else list(RELATIONSHIP_TYPES)
    checked = [relationship_type(n, field_name="relationshipTypes").name for n in names]
    return [n for n in checked if RELATIONSHIP_TYPES[n].propagation is not Propagation.NONE]


def analyse(
    root: str,
    graph: PropagationGraph,
    *,
    direction: Direction,
    max_depth: int,
    max_results: int,
    explain: bool = True,
) -> ImpactResult:
    if direction is Direction.UPSTREAM:
        return _dependencies(root, graph, max_depth, max_results, explain)
    return _impact(root, graph, max_depth, max_results, explain)


def _too_many(count: int, max_results: int, what: str) -> None:
    if count > max_results:
        raise LimitExceeded(
            "maxResults",
            max_results,
            f"{what} reaches more than {max_results} CIs; lower maxDepth or name relationshipTypes",
        )


@dataclass(frozen=True)
class _GroupVerdict:
    group: str
    members: dict[str, Edge]
    failed: list[str]  # members down before the verdict, earliest first
    min_up: int
    depth: int | None  # when the group is exhausted: the depth at which its dependant fails

    @property
    def up(self) -> int:
        return len(self.members) - len(self.failed)


def _judge(
    group: str, members: dict[str, Edge], fell: dict[str, int], before: int
) -> _GroupVerdict:
    """A group with `min_up` needed falls with its (members - min_up + 1)th failed member."""
    min_up = max(e.min_up for e in members.values())
    failed = sorted(
        (m for m in members if fell.get(m, before) < before), key=lambda m: (fell[m], m)
    )
    needed_failures = max(1, len(members) - min_up + 1)
    depth = None
    if len(failed) >= needed_failures:
        depth = fell[failed[needed_failures - 1]] + 1
        failed = [m for m in failed if fell[m] < depth]
    return _GroupVerdict(group, members, failed, min_up, depth)


def _impact(
    root: str, graph: PropagationGraph, max_depth: int, max_results: int, explain: bool
) -> ImpactResult:
    fell: dict[str, int] = {root: 0}
    by_group: dict[str, _GroupVerdict] = {}  # CIs brought down by an exhausted group
    groups: dict[str, dict[str, dict[str, Edge]]] = {}  # dependant -> group -> member -> edge
    starts = [(root, 0)]
    while starts:
        walk = graph.walk(starts, through_groups=False)
        for ci, depth in walk.reached:
            if depth < fell.get(ci, max_depth + 1):
                fell[ci] = depth
                by_group.pop(ci, None)
        for dependant, group, members in walk.groups:
            groups.setdefault(dependant, {}).setdefault(group, {}).update(members)
        _too_many(len(fell) - 1, max_results, "the impact")
        starts = []
        for dependant, its_groups in sorted(groups.items()):
            if dependant == root:
                continue
            exhausted = [
                v
                for v in (_judge(g, m, fell, max_depth) for g, m in sorted(its_groups.items()))
                if v.depth is not None and v.depth <= max_depth
            ]
            if not exhausted:
                continue
            first = min(exhausted, key=lambda v: v.depth or 0)
            assert first.depth is not None
            if first.depth < fell.get(dependant, max_depth + 1):
                fell[dependant] = first.depth
                by_group[dependant] = first
                if first.depth < max_depth:
                    starts.append((dependant, first.depth))

    spared = []
    for dependant, its_groups in sorted(groups.items()):
        if dependant in fell:
            continue
        # Judged as at the last depth: only members down before it count.
        standing = [
            v
            for v in (_judge(g, m, fell, max_depth) for g, m in sorted(its_groups.items()))
            if v.failed
        ]
        if standing:
            v = standing[-1]
            spared.append(Spared(dependant, v.group, len(v.members), v.up, v.min_up))

    reached = {ci: Reached(ci, depth) for ci, depth in fell.items()}

    def explain_some(only: Collection[str] | None) -> None:
        _explain(reached, fell, by_group, graph, root, only)

    if explain:
        explain_some(None)
    return ImpactResult(
        root,
        Direction.DOWNSTREAM,
        _in_order(reached, root),
        spared,
        explain_some,
    )


def _explain(
    reached: dict[str, Reached],
    fell: dict[str, int],
    by_group: dict[str, _GroupVerdict],
    graph: PropagationGraph,
    root: str,
    only: Collection[str] | None,
) -> None:
    """Reasons and paths of the failed CIs, or of `only` these: then the relationships read are
    those of these CIs and of the CIs on their paths, a round trip per depth, instead of every
    failed CI's at once."""
    wanted = sorted(ci for ci in (fell if only is None else only) if ci in fell)
    explained: set[str] = {root}
    while wanted:
        asked = [ci for ci in wanted if ci not in explained]
        needs = graph.providers(asked) if asked else {}
        further: set[str] = set()
        for ci in asked:
            explained.add(ci)
            r = reached[ci]
            # A failed provider outside any group explains a failure before a group does.
            r.parents = sorted(
                (
                    (e.provider, e)
                    for e in needs.get(ci, [])
                    if e.group is None and fell.get(e.provider, r.depth) < r.depth
                ),
                key=lambda pe: (fell[pe[0]], pe[0], pe[1].type),
            )
            verdict = by_group.get(ci)
            if r.parents:
                provider, edge = r.parents[0]
                r.reason = f"{_as_seen_by(ci, edge)} {graph.name(provider)}, which failed"
            elif verdict is not None:
                r.parents = [(m, verdict.members[m]) for m in verdict.failed]
                r.reason = (
                    f"redundancy group {verdict.group!r} exhausted: {verdict.up} of "
                    f"{len(verdict.members)} up, {verdict.min_up} needed"
                )
            if only is not None:
                further.update(p for p, _ in r.parents)
        wanted = sorted(further - explained)
    _fill_paths(reached, root)


def _dependencies(
    root: str, graph: PropagationGraph, max_depth: int, max_results: int, explain: bool
) -> ImpactResult:
    """Everything the root needs, transitively: the providers along propagating relationships."""
    walked = graph.walk([(root, 0)], through_groups=True).reached
    _too_many(len(walked) - 1, max_results, "the dependency walk")
    reached = {ci: Reached(ci, depth) for ci, depth in walked}
    reached.setdefault(root, Reached(root, 0))
    if explain:
        needs = graph.providers(sorted(reached))
        for dependant in sorted(reached):
            for edge in needs.get(dependant, []):
                provider = reached.get(edge.provider)
                if provider is None or provider.depth != reached[dependant].depth + 1:
                    continue
                provider.parents.append((dependant, edge))
                if provider.reason is None:
                    provider.reason = f"{_as_seen_by(edge.provider, edge)} {graph.name(dependant)}"
                    if edge.group:
                        provider.reason += (
                            f" (redundancy group {edge.group!r}, {edge.min_up} needed)"
                        )
        _fill_paths(reached, root)
    return ImpactResult(
        root,
        Direction.UPSTREAM,
        _in_order(reached, root),
        [],
    )


def _in_order(reached: dict[str, Reached], root: str) -> list[Reached]:
    others = (r for r in reached.values() if r.ci_id != root)
    return sorted(others, key=lambda r: (r.depth, r.ci_id))


def _fill_paths(reached: dict[str, Reached], root: str) -> None:
    memo: dict[str, list[list[Step]]] = {root: [[]]}
    for r in sorted(reached.values(), key=lambda r: r.depth):
        if r.ci_id == root:
            continue
        paths: list[list[Step]] = []
        for parent, edge in r.parents:
            if parent not in memo or reached[parent].depth >= r.depth:
                continue
            for head in memo[parent]:
                step = Step(edge.source, edge.type, edge.target, edge.source == parent)
                paths.append([*head, step])
                if len(paths) >= MAX_PATHS_PER_CI:
                    break
            if len(paths) >= MAX_PATHS_PER_CI:
                break
        memo[r.ci_id] = r.paths = paths


# -- the operations the API calls ------------------------------------------------------------


@dataclass
class ImpactReport:
    result: ImpactResult
    cis: dict[str, dict[str, Any]]
    services: list[dict[str, Any]]
    slas: list[dict[str, Any]]
    customers: list[dict[str, Any]]


class _StoredGraph:
    """The propagation graph as Neo4j holds it, read inside one transaction."""

    def __init__(
        self,
        tx: ManagedTransaction,
        types: Sequence[str],
        direction: Direction,
        max_depth: int,
        properties: Sequence[str] | None,
    ) -> None:
        self._tx = tx
        self._types = _propagating(types)
        self._upstream = direction is Direction.UPSTREAM
        self._max_depth = max_depth
        self.properties = properties
        self.details: dict[str, dict[str, Any]] = {}  # CI -> its display record, as walked
        self._groups_read: set[tuple[str, str]] = set()

    def walk(self, starts: Sequence[tuple[str, int]], *, through_groups: bool) -> Walk:
        found = ci_cypher.propagation_reach(
            self._tx,
            starts,
            self._types,
            upstream=self._upstream,
            through_groups=through_groups,
            max_depth=self._max_depth,
            properties=self.properties,
        )
        for ci, shown in found["shown"].items():
            self.details.setdefault(ci, shown)
        groups = []
        for dependant, group, members in found["groups"]:
            if (dependant, group) in self._groups_read:  # met again from a later walk
                continue
            self._groups_read.add((dependant, group))
            groups.append((dependant, group, {m[0]: _member(group, m) for m in members}))
        return Walk(found["reached"], groups)

    def name(self, ci_id: str) -> str:
        shown = self.details.get(ci_id)
        return str(shown["ci"]["name"]) if shown else ci_id

    def providers(self, ids: Sequence[str]) -> dict[str, list[Edge]]:
        found = ci_cypher.provider_edges(self._tx, ids, self._types)
        return {
            ci: [Edge(p, s, t, e, g, int(m or 1)) for p, s, t, e, g, m in rows]
            for ci, rows in found.items()
        }


def _propagating(types: Iterable[str]) -> ci_cypher.Propagating:
    """The relationship types by the way a failure travels along them; the others left out."""

    chosen = list(types)

    def named(p: Propagation) -> tuple[str, ...]:
        return tuple(sorted(t for t in chosen if RELATIONSHIP_TYPES[t].propagation is p))

    return ci_cypher.Propagating(
        named(Propagation.TO_SOURCE), named(Propagation.TO_TARGET), named(Propagation.BOTH)
    )


def path_between(
    tx: ManagedTransaction,
    from_id: str,
    to_id: str,
    types: Sequence[str],
    *,
    max_depth: int,
    direction: PathDirection = PathDirection.ANY,
) -> list[Step] | None:
    """A shortest path from one CI to another, each step saying which way the walk crosses it.

    DOWNSTREAM follows only the way a failure travels (as impact does, though a redundancy
    group on the way may yet spare what lies beyond it); UPSTREAM the way a CI needs another.
    """
    if direction is PathDirection.ANY:
        rows = ci_cypher.shortest_path(tx, from_id, to_id, types, max_depth)
    else:
        rows = ci_cypher.propagation_path(
            tx,
            from_id,
            to_id,
            _propagating(types),
            upstream=direction is PathDirection.UPSTREAM,
            max_depth=max_depth,
        )
    if rows is None:
        return None
    steps, here = [], from_id
    for row in rows:
        forward = row["s"] == here
        steps.append(Step(row["s"], row["type"], row["t"], forward))
        here = row["t"] if forward else row["s"]
    return steps


def _member(group: str, row: Sequence[Any]) -> Edge:
    provider, source, type_, target, min_up = row
    return Edge(provider, source, type_, target, group, int(min_up or 1))


def _analyse_stored(
    tx: ManagedTransaction,
    ci_id: str,
    types: Sequence[str],
    direction: Direction,
    max_depth: int,
    max_results: int,
    explain: bool,
    ci_properties: Sequence[str] | None,
) -> tuple[ImpactResult, _StoredGraph]:
    graph = _StoredGraph(tx, types, direction, max_depth, ci_properties)
    result = analyse(
        ci_id,
        graph,
        direction=direction,
        max_depth=max_depth,
        max_results=max_results,
        explain=explain,
    )
    return result, graph


def failure_reach(
    tx: ManagedTransaction,
    ci_id: str,
    *,
    max_depth: int,
    explain: bool = True,
    ci_properties: Sequence[str] | None = None,
) -> tuple[ImpactResult, dict[str, dict[str, Any]]]:
    """What a failure of `ci_id` takes down, by every propagating relationship type, inside a
    transaction the caller holds (so that it can read more in the same consistent picture);
    with each CI the walks read as {"ci": properties, "service": bool, "slas": [...]}. Without
    `explain`, the result's `explain` fills in the reasons and paths of chosen CIs later."""
    types = check_request(max_depth, None)
    result, graph = _analyse_stored(
        tx,
        ci_id,
        types,
        Direction.DOWNSTREAM,
        max_depth,
        HARD_MAX_RESULTS,
        explain,
        ci_properties,
    )
    return result, graph.details


def impact_of(
    store: Store,
    actor: Actor,
    ci_id: str,
    *,
    direction: Direction = Direction.DOWNSTREAM,
    max_depth: int = 6,
    relationship_types: Iterable[str] | None = None,
    max_results: int = 5000,
    explain: bool = True,
    ci_properties: Sequence[str] | None = None,
) -> ImpactReport:
    """What breaks if `ci_id` goes down (downstream), or what it needs (upstream).

    The whole analysis reads inside one transaction: a consistent picture of the graph. Without
    `explain` the reasons and paths of affected CIs are left out, which saves reading the
    relationships of every affected CI; with `ci_properties` only those properties of each CI are
    read for display.
    """
    actor.require(Permission.READ)
    if max_results < 1 or max_results > HARD_MAX_RESULTS:
        raise LimitExceeded(
            "maxResults", HARD_MAX_RESULTS, f"maxResults must be between 1 and {HARD_MAX_RESULTS}"
        )
    types = check_request(max_depth, relationship_types)

    def work(tx: ManagedTransaction) -> ImpactReport:
        result, graph = _analyse_stored(
            tx, ci_id, types, direction, max_depth, max_results, explain, ci_properties
        )
        affected = [ci_id, *(r.ci_id for r in result.reached)]
        shown = [*affected, *(s.ci_id for s in result.spared)]
        # The walks read the CIs for display as they went; a CI can be missing only when it is
        # the root of a walk that found nothing (then it may not exist).
        unread = [ci for ci in shown if ci not in graph.details]
        found = ci_cypher.with_agreements(tx, unread, ci_properties) if unread else []
        rows = [*(graph.details[ci] for ci in shown if ci in graph.details), *found]
        cis = {row["ci"]["id"]: row["ci"] for row in rows}
        if ci_id not in cis:
            raise NotFound("CI", ci_id, field="ciId")
        down = set(affected)
        services = [row for row in rows if row["service"] and row["ci"]["id"] in down]
        slas = {s["id"]: s for row in services for s in row["slas"]}
        customers = {c["id"]: c for s in slas.values() for c in s["customers"]}
        return ImpactReport(
            result,
            cis,
            services=sorted((row["ci"] for row in services), key=lambda c: c["name"]),
            slas=sorted(slas.values(), key=lambda s: s["name"]),
            customers=sorted(customers.values(), key=lambda c: c["name"]),
        )

    return store.read(work)


def dependency_reach(
    tx: ManagedTransaction, ci_id: str, *, max_depth: int
) -> list[tuple[str, int]]:
    """Every CI `ci_id` needs, transitively, by every propagating relationship type (through
    redundancy groups too), nearest first, inside a transaction the caller holds."""
    types = check_request(max_depth, None)
    result, _ = _analyse_stored(
        tx, ci_id, types, Direction.UPSTREAM, max_depth, HARD_MAX_RESULTS, False, ("name",)
    )
    return [(r.ci_id, r.depth) for r in result.reached]


def dependant_reach(tx: ManagedTransaction, ci_id: str, *, max_depth: int) -> list[tuple[str, int]]:
    """Every CI that needs `ci_id`, transitively, by every propagating relationship type
    (through redundancy groups too), with its fewest hops: `dependency_reach` the other way."""
    types = _propagating(check_request(max_depth, None))
    found = ci_cypher.propagation_reach(
        tx, [(ci_id, 0)], types, upstream=False, through_groups=True, max_depth=max_depth
    )
    return [(ci, depth) for ci, depth in found["reached"] if ci != ci_id]


# -- several failures at once ---------------------------------------------------------------------


def needs_of(
    tx: ManagedTransaction, ci_ids: Sequence[str], *, max_depth: int = MAX_DEPTH
) -> tuple[dict[str, list[Edge]], dict[str, dict[str, Any]]]:
    """Everything the given CIs need, transitively, by every propagating relationship type: for
    each CI the relationships through which it needs another, and each CI for display. Read
    once, it answers `down_with` for any set of failed CIs without reading the graph again."""
    types = _propagating(check_request(max_depth, None))
    found = ci_cypher.propagation_reach(
        tx,
        [(ci, 0) for ci in ci_ids],
        types,
        upstream=True,
        through_groups=True,
        max_depth=max_depth,
        properties=("name", "ciClass", "number"),
    )
    reached = sorted({ci for ci, _ in found["reached"]} | set(ci_ids))
    edges = ci_cypher.provider_edges(tx, reached, types)
    needs = {
        ci: [Edge(p, s, t, e, g, int(m or 1)) for p, s, t, e, g, m in rows]
        for ci, rows in edges.items()
    }
    return needs, {ci: shown["ci"] for ci, shown in found["shown"].items()}


def needs_among(
    tx: ManagedTransaction, ci_ids: Sequence[str], candidates: Sequence[str], *, max_depth: int
) -> dict[str, dict[str, int]]:
    """For each CI, which of the candidates it needs within `max_depth` hops by every
    propagating relationship type (through redundancy groups), with the fewest hops; a CI that
    is a candidate needs itself at 0."""
    types = _propagating(check_request(max_depth, None))
    wanted = set(candidates)
    out: dict[str, dict[str, int]] = {ci: ({ci: 0} if ci in wanted else {}) for ci in ci_ids}
    for start, hit, hops in ci_cypher.needs_among(
        tx, sorted(set(ci_ids)), sorted(wanted), types, max_depth=max_depth
    ):
        if hit != start:
            out[start][hit] = min(hops, out[start].get(hit, hops))
    return out


def dependants_within(tx: ManagedTransaction, ci_id: str, *, max_depth: int) -> int:
    """How many CIs need `ci_id` within `max_depth` hops, by every propagating relationship
    type (through redundancy groups): the CIs its failure may reach."""
    types = _propagating(check_request(max_depth, None))
    return ci_cypher.dependants_within(tx, ci_id, types, max_depth=max_depth)


def down_with(ci_id: str, failed: Collection[str], needs: dict[str, list[Edge]]) -> bool:
    """Whether `ci_id` is down while the `failed` CIs are, by the rules `analyse` follows: a CI
    fails with a provider it needs outside any redundancy group, and with a group that has lost
    more members than it can spare; `needs` as `needs_of` read it."""
    memo: dict[str, bool] = {}

    def down(ci: str, visiting: frozenset[str]) -> bool:
        if ci in failed:
            return True
        if ci in memo:
            return memo[ci]
        if ci in visiting:  # a cycle brings nothing down by itself
            return False
        inner = visiting | {ci}
        groups: dict[str, dict[str, Edge]] = {}
        result = False
        for edge in needs.get(ci, []):
            if edge.group is None:
                if down(edge.provider, inner):
                    result = True
                    break
            else:
                groups.setdefault(edge.group, {})[edge.provider] = edge
        if not result:
            for group, members in sorted(groups.items()):
                fell = {m: 0 for m in members if down(m, inner)}
                if _judge(group, members, fell, 1).depth is not None:
                    result = True
                    break
        memo[ci] = result
        return result

    return down(ci_id, frozenset())
