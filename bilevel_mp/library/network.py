"""Networks from arc lists, shared by the toll, interdiction and pricing models: parsing
with clear errors, arc attributes, adjacency and flow conservation."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Hashable, Iterable


from ..errors import BilevelInputError


def check_number(value, what: str, nonnegative: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise BilevelInputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise BilevelInputError(f"{what} must be finite, got {value!r}")
    if nonnegative and v < 0:
        raise BilevelInputError(f"{what} must be >= 0, got {v:g}")
    return v


@dataclass
class Network:
    """A directed graph from an arc list: ``arcs[k] = (tail, head)`` with one number per
    arc and field (``data["cost"][k]``). Parallel arcs and self-loops are rejected."""

    nodes: list
    arcs: list
    data: dict = field(default_factory=dict)
    index: dict = field(default_factory=dict)  # (tail, head) -> arc position

    @classmethod
    def from_arcs(cls, arcs: Iterable, fields: tuple[str, ...], defaults: dict | None = None,
                  nodes: Iterable | None = None, signed: tuple[str, ...] = ()) -> "Network":
        """Parse ``(tail, head, v1, v2, ...)`` tuples; ``fields`` names v1, v2, ...; the
        trailing ones may be omitted when ``defaults`` gives them. Values must be finite
        and >= 0 unless their field is in ``signed``. With ``nodes`` given, an arc on
        any other node is an error."""
        defaults = defaults or {}
        known = None if nodes is None else list(dict.fromkeys(nodes))
        known_set = None if known is None else set(known)
        out_nodes = [] if known is None else known
        seen_nodes = set() if known is None else set(known)
        net = cls(nodes=out_nodes, arcs=[], data={f: [] for f in fields})
        n_required = len([f for f in fields if f not in defaults])
        for pos, arc in enumerate(arcs):
            arc = tuple(arc) if not isinstance(arc, tuple) else arc
            if not (2 + n_required <= len(arc) <= 2 + len(fields)):
                raise BilevelInputError(
                    f"arc #{pos} {arc!r}: expected (tail, head, {', '.join(fields)})"
                    + (f" (the last {len(fields) - n_required} optional)" if n_required < len(fields) else ""))
            tail, head = arc[0], arc[1]
            for node in (tail, head):
                if not isinstance(node, Hashable):
                    raise BilevelInputError(f"arc #{pos}: node {node!r} is not hashable")
                if known_set is not None and node not in known_set:
                    raise BilevelInputError(f"arc ({tail!r}, {head!r}) uses unknown node {node!r}")
                if node not in seen_nodes:
                    seen_nodes.add(node)
                    out_nodes.append(node)
            if tail == head:
                raise BilevelInputError(f"arc ({tail!r}, {head!r}) is a self-loop")
            if (tail, head) in net.index:
                raise BilevelInputError(
                    f"arc ({tail!r}, {head!r}) is given twice; model parallel arcs through an "
                    "extra node")
            for k, f in enumerate(fields):
                value = arc[2 + k] if 2 + k < len(arc) else defaults[f]
                net.data[f].append(check_number(value, f"{f} of arc ({tail!r}, {head!r})",
                                           nonnegative=f not in signed))
            net.index[(tail, head)] = len(net.arcs)
            net.arcs.append((tail, head))
        if not net.arcs:
            raise BilevelInputError("the network has no arcs")
        return net

    def _node_set(self) -> set:
        if len(getattr(self, "_nodes_seen", ())) != len(self.nodes):
            self._nodes_seen = set(self.nodes)
        return self._nodes_seen

    def node(self, v, what: str):
        """``v`` if it is a node of the network, else a ``BilevelInputError`` naming it."""
        if not isinstance(v, Hashable) or v not in self._node_set():
            raise BilevelInputError(f"{what} {v!r} is not a node of the network")
        return v

    def arc(self, key, what: str) -> int:
        """Position of arc ``key = (tail, head)``, or an error naming it."""
        try:
            tail, head = key
        except (TypeError, ValueError):
            raise BilevelInputError(f"{what} {key!r} is not a (tail, head) pair") from None
        for node in (tail, head):
            self.node(node, f"{what} ({tail!r}, {head!r}): node")
        if (tail, head) not in self.index:
            raise BilevelInputError(f"{what} ({tail!r}, {head!r}) is not an arc of the network")
        return self.index[(tail, head)]

    def reachable(self, start, reverse: bool = False, arcs: Iterable[int] | None = None) -> set:
        """Nodes reachable from ``start`` (or reaching it, with ``reverse``)."""
        adj: dict = {}
        for a in (range(len(self.arcs)) if arcs is None else arcs):
            i, j = self.arcs[a]
            if reverse:
                i, j = j, i
            adj.setdefault(i, []).append(j)
        seen, stack = {start}, [start]
        while stack:
            for j in adj.get(stack.pop(), ()):
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        return seen

    def path_arcs(self, source, sink) -> list[int]:
        """Arcs on some source-sink path: tail reachable from source, head reaching sink."""
        fwd, bwd = self.reachable(source), self.reachable(sink, reverse=True)
        return [a for a, (i, j) in enumerate(self.arcs) if i in fwd and j in bwd]

    def distances(self, source, weights, arcs: Iterable[int] | None = None, reverse: bool = False) -> dict:
        """Dijkstra distances from ``source`` (to it, with ``reverse``) under nonnegative
        arc ``weights`` (indexed by arc position); unreachable nodes are absent."""
        adj: dict = {}
        for a in (range(len(self.arcs)) if arcs is None else arcs):
            i, j = self.arcs[a]
            if reverse:
                i, j = j, i
            adj.setdefault(i, []).append((j, float(weights[a])))
        dist = {source: 0.0}
        heap = [(0.0, 0, source)]
        counter = 1
        while heap:
            d, _, i = heapq.heappop(heap)
            if d > dist.get(i, math.inf):
                continue
            for j, w in adj.get(i, ()):
                nd = d + w
                if nd < dist.get(j, math.inf):
                    dist[j] = nd
                    heapq.heappush(heap, (nd, counter, j))
                    counter += 1
        return dist


def flow_conservation(net: Network, flow: dict, supply: dict, nodes: Iterable) -> list:
    """Rows ``out(i) - in(i) == supply[i]`` (a number or an expression, default 0) over
    ``flow`` (arc position -> expression), one per node in ``nodes``."""
    out: dict = {}
    inn: dict = {}
    for a, f in flow.items():
        i, j = net.arcs[a]
        out.setdefault(i, []).append(f)
        inn.setdefault(j, []).append(f)
    return [sum(out.get(i, [])) - sum(inn.get(i, [])) == supply.get(i, 0.0) for i in nodes]


# --------------------------------------------------------------------------- toll setting
