"""The reference model for impact analysis: the rules applied one hop at a time, in memory.

It reads every relationship of every CI it looks at, level by level, which is too slow for a large
estate but simple enough to trust. Tests check the API's answers against it on random graphs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import LimitExceeded
from domain.cmdb import RELATIONSHIP_TYPES, Propagation
from domain.impact import MAX_PATHS_PER_CI, Direction, Spared, Step, check_request


@dataclass(frozen=True)
class Edge:
    """A relationship `(source)-[type]->(target)` as read from the graph."""

    source: str
    type: str
    target: str
    props: dict[str, Any]

    @property
    def propagation(self) -> Propagation:
        return RELATIONSHIP_TYPES[self.type].propagation

    @property
    def group(self) -> str | None:
        group = self.props.get("redundancyGroup")
        return str(group) if group else None

    @property
    def min_up(self) -> int:
        return int(self.props.get("minUp") or 1)

    def dependants_of(self, failed: str) -> list[str]:
        """The CIs that this edge hurts when `failed` fails."""
        p = self.propagation
        out = []
        if failed == self.target and p in (Propagation.TO_SOURCE, Propagation.BOTH):
            out.append(self.source)
        if failed == self.source and p in (Propagation.TO_TARGET, Propagation.BOTH):
            out.append(self.target)
        return out

    def provider_for(self, dependant: str) -> str | None:
        """The CI whose failure reaches `dependant` through this edge, if any."""
        p = self.propagation
        if dependant == self.source and p in (Propagation.TO_SOURCE, Propagation.BOTH):
            return self.target
        if dependant == self.target and p in (Propagation.TO_TARGET, Propagation.BOTH):
            return self.source
        return None


@dataclass
class Reached:
    ci_id: str
    depth: int
    reason: str
    parents: list[tuple[str, Edge]] = field(default_factory=list)
    paths: list[list[Step]] = field(default_factory=list)


@dataclass
class ImpactResult:
    root: str
    direction: Direction
    reached: list[Reached]
    spared: list[Spared]


# Reads the relationships of the given types that touch any of the given CIs (both directions).
EdgeReader = Callable[[Sequence[str], Sequence[str]], list[Edge]]


def analyse(
    root: str,
    read_edges: EdgeReader,
    *,
    direction: Direction,
    max_depth: int,
    relationship_types: Iterable[str] | None,
    max_results: int,
) -> ImpactResult:
    types = check_request(max_depth, relationship_types)
    if direction is Direction.UPSTREAM:
        return _dependencies(root, read_edges, types, max_depth, max_results)
    return _impact(root, read_edges, types, max_depth, max_results)


class _EdgeCache:
    """Each CI's relationships, read once: a CI is read when it first becomes a candidate, and
    the same edges then serve when it is on the frontier. One round trip per depth."""

    def __init__(self, read_edges: EdgeReader, types: list[str]) -> None:
        self._read = read_edges
        self._types = types
        self.edges: dict[str, list[Edge]] = {}

    def of(self, ids: Iterable[str]) -> dict[str, list[Edge]]:
        wanted = set(ids)
        missing = sorted(wanted - self.edges.keys())
        if missing:
            fresh = set(missing)
            for ci in missing:
                self.edges[ci] = []
            for edge in self._read(missing, self._types):
                for end in {edge.source, edge.target} & fresh:
                    self.edges[end].append(edge)
        return {ci: self.edges[ci] for ci in wanted}


def _impact(
    root: str, read_edges: EdgeReader, types: list[str], max_depth: int, max_results: int
) -> ImpactResult:
    down: dict[str, Reached] = {root: Reached(root, 0, "the CI that fails")}
    spared: dict[str, Spared] = {}
    cache = _EdgeCache(read_edges, types)
    frontier = [root]
    depth = 0
    while frontier and depth < max_depth:
        depth += 1
        candidates: set[str] = set()
        for failed, edges in cache.of(frontier).items():
            for edge in edges:
                candidates.update(d for d in edge.dependants_of(failed) if d not in down)
        candidates.update(spared)  # a spared CI may fall once more of its peers are down
        if not candidates:
            break
        needs = [e for edges in cache.of(candidates).values() for e in edges]
        newly = _fall(candidates, needs, down, spared, depth)
        if len(down) - 1 > max_results:
            raise LimitExceeded(
                "maxResults",
                max_results,
                f"the impact reaches more than {max_results} CIs; lower maxDepth or name "
                "relationshipTypes",
            )
        frontier = newly
    reached = _with_paths(down, root)
    return ImpactResult(
        root,
        Direction.DOWNSTREAM,
        sorted(reached, key=lambda r: (r.depth, r.ci_id)),
        sorted(spared.values(), key=lambda s: s.ci_id),
    )


def _fall(
    candidates: set[str],
    edges: list[Edge],
    down: dict[str, Reached],
    spared: dict[str, Spared],
    depth: int,
) -> list[str]:
    """Decide which candidates fail at this depth, from what had failed before it.

    A CI that falls because of another one falling at this same depth is one hop further
    away: it is decided at the next depth, where it is a candidate again.
    """
    needs: dict[str, list[Edge]] = {c: [] for c in candidates}
    seen: set[tuple[str, str, str, str]] = set()
    for edge in edges:
        for ci in (edge.source, edge.target):
            key = (ci, edge.source, edge.type, edge.target)
            if ci in needs and edge.provider_for(ci) is not None and key not in seen:
                seen.add(key)
                needs[ci].append(edge)
    before = dict(down)
    newly: list[str] = []
    for ci in sorted(candidates):
        if ci in down:
            continue
        verdict = _verdict(ci, needs[ci], before)
        if isinstance(verdict, Reached):
            verdict.depth = depth
            down[ci] = verdict
            spared.pop(ci, None)
            newly.append(ci)
        elif verdict is not None:
            spared[ci] = verdict
    return newly


def _verdict(ci: str, needs: list[Edge], down: dict[str, Reached]) -> Reached | Spared | None:
    failed_parents: list[tuple[str, Edge]] = []
    groups: dict[str, list[Edge]] = {}
    for edge in needs:
        provider = edge.provider_for(ci)
        if edge.group:
            groups.setdefault(edge.group, []).append(edge)
        elif provider in down:
            failed_parents.append((provider, edge))
    if failed_parents:
        return Reached(ci, 0, f"{failed_parents[0][1].type} a failed CI", failed_parents)
    spared_by: Spared | None = None
    for group, members in sorted(groups.items()):
        failed = [(e.provider_for(ci), e) for e in members if e.provider_for(ci) in down]
        if not failed:
            continue
        up = len(members) - len(failed)
        min_up = max(e.min_up for e in members)
        if up < min_up:
            reason = (
                f"redundancy group {group!r} exhausted: {up} of {len(members)} up, {min_up} needed"
            )
            return Reached(ci, 0, reason, [(p, e) for p, e in failed if p is not None])
        spared_by = Spared(ci, group, len(members), up, min_up)
    return spared_by


def _with_paths(found: dict[str, Reached], root: str) -> list[Reached]:
    reached = [r for r in found.values() if r.ci_id != root]
    memo: dict[str, list[list[Step]]] = {}
    for r in reached:
        r.paths = _paths(r.ci_id, found, root, memo)
    return reached


def _paths(
    ci: str,
    down: dict[str, Reached],
    root: str,
    memo: dict[str, list[list[Step]]] | None = None,
) -> list[list[Step]]:
    """Up to MAX_PATHS_PER_CI shortest paths from the root, following the recorded parents."""
    if ci == root:
        return [[]]
    memo = {} if memo is None else memo
    if ci in memo:
        return memo[ci]
    out: list[list[Step]] = []
    for parent, edge in down[ci].parents:
        if parent not in down or down[parent].depth >= down[ci].depth:
            continue
        for head in _paths(parent, down, root, memo):
            out.append([*head, Step(edge.source, edge.type, edge.target)])
            if len(out) >= MAX_PATHS_PER_CI:
                break
        if len(out) >= MAX_PATHS_PER_CI:
            break
    memo[ci] = out
    return out


def _dependencies(
    root: str, read_edges: EdgeReader, types: list[str], max_depth: int, max_results: int
) -> ImpactResult:
    """Everything the root needs, transitively: the providers along propagating edges."""
    seen: dict[str, Reached] = {root: Reached(root, 0, "the CI asked about")}
    frontier = [root]
    depth = 0
    while frontier and depth < max_depth:
        depth += 1
        nxt = []
        for ci, edges in sorted(_EdgeCache(read_edges, types).of(frontier).items()):
            for edge in edges:
                provider = edge.provider_for(ci)
                if provider is None:
                    continue
                if provider not in seen:
                    why = f"needed through {edge.type}"
                    if edge.group:
                        why += f" (redundancy group {edge.group!r}, {edge.min_up} needed)"
                    seen[provider] = Reached(provider, depth, why, [(ci, edge)])
                    nxt.append(provider)
                elif seen[provider].depth == depth:
                    seen[provider].parents.append((ci, edge))
        if len(seen) - 1 > max_results:
            raise LimitExceeded(
                "maxResults", max_results, f"more than {max_results} dependencies; lower maxDepth"
            )
        frontier = nxt
    reached = _with_paths(seen, root)
    return ImpactResult(
        root, Direction.UPSTREAM, sorted(reached, key=lambda r: (r.depth, r.ci_id)), []
    )
