"""Network interdiction: a leader with a budget spoils arcs, a follower routes around.

Shortest-path interdiction (Israeli & Wood 2002, Networks 40(2)): interdicting arc a
(binary x_a, resource r_a, budget R) lengthens it from c_a to c_a + d_a; the follower
then takes a shortest source-sink path and the leader maximises its length::

    max_x  min_y  sum_a (c_a + d_a x_a) y_a
    s.t.   sum_a r_a x_a <= R,  x binary;   y: one unit of flow from s to t, y >= 0

Max-flow interdiction (Wood 1993, Mathl. Comput. Modelling 17(2)): interdicting arc a
removes its capacity; the follower sends a maximum flow and the leader minimises it::

    min_x  max_{y, v}  v
    s.t.   sum_a r_a x_a <= R,  x binary;  conservation with v out of s and into t,
           0 <= y_a <= u_a (1 - x_a)

Both are built as ``BilevelProblem`` objects for ``bilevel_mp.solve``. Max-min problems
are the optimistic/pessimistic-neutral case: the leader's objective is the follower's.
For shortest paths the default ``formulation="linear"`` writes the leader's objective
through the follower's LP duality, as Israeli & Wood do: the leader also holds node
labels u with u_s = 0, u_j - u_i <= c_a + d_a x_a, and maximises u_t. Every such u_t is
at most the follower's shortest-path length (weak duality) and the distances attain it
(strong duality), so the bilevel optimum is unchanged and linear in x.
``formulation="bilinear"`` maximises (c + d x)·y directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import BilevelInputError
from ..problem import BilevelProblem
from .network import Network, check_number, flow_conservation

FORMULATIONS = ("linear", "bilinear")


def _interdictable(net: Network, interdictable) -> list[int]:
    if interdictable is None:
        return list(range(len(net.arcs)))
    out = []
    for key in interdictable:
        a = net.arc(key, "interdictable arc")
        if a in out:
            raise BilevelInputError(f"interdictable arc {tuple(key)!r} is listed twice")
        out.append(a)
    return out


def _endpoints(net: Network, source, sink):
    net.node(source, "source")
    net.node(sink, "sink")
    if source == sink:
        raise BilevelInputError(f"source and sink are both {source!r}")


@dataclass
class InterdictionModel:
    """How an interdiction problem's variables map back to the network."""

    network: Network
    source: object
    sink: object
    budget: float
    interdictable: list[int]  # arc positions, in the order of x[0..]
    flow_index: dict  # arc position -> y index
    kind: str  # "shortest_path" or "max_flow"


@dataclass
class InterdictionSolution:
    interdicted: list  # (tail, head) keys of the interdicted arcs
    flows: dict  # (tail, head) -> follower flow (nonzero only)
    value: float  # the follower's value: path length or flow value


def shortest_path_interdiction(arcs, source, sink, budget, interdictable=None, nodes=None,
                               formulation: str = "linear",
                               name: str = "shortest_path_interdiction") -> BilevelProblem:
    """Israeli & Wood's shortest-path interdiction with a budget.

    Parameters
    ----------
    arcs : iterable of ``(tail, head, cost, delay)`` or
        ``(tail, head, cost, delay, resource)``: length c >= 0, added length d >= 0 when interdicted, resource
        r >= 0 it takes to interdict (default 1)
    source, sink : nodes; some path between them must exist
    budget : total resource R >= 0
    interdictable : optional ``(tail, head)`` keys; default every arc
    formulation : ``"linear"`` (default, dual labels) or ``"bilinear"``

    The leader maximises the follower's shortest-path length (``result.F``).
    ``interdiction_solution`` reads the interdicted arcs and the path from a result.
    """
    if formulation not in FORMULATIONS:
        raise BilevelInputError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    net = Network.from_arcs(arcs, ("cost", "delay", "resource"), defaults={"resource": 1.0}, nodes=nodes)
    _endpoints(net, source, sink)
    budget = check_number(budget, "budget")
    hit = _interdictable(net, interdictable)
    on_path = net.path_arcs(source, sink)
    if not on_path:
        raise BilevelInputError(f"no path from source {source!r} to sink {sink!r}")
    cost, delay, res = net.data["cost"], net.data["delay"], net.data["resource"]
    hit_pos = {a: n for n, a in enumerate(hit)}
    ends = {v for a in on_path for v in net.arcs[a]}
    nodes_on = [v for v in net.nodes if v in ends]
    x_names = [f"interdict{net.arcs[a]}" for a in hit]
    x_bounds = [(0, 1)] * len(hit)
    label = {}
    if formulation == "linear":
        longest = [cost[a] + (delay[a] if a in hit_pos else 0.0) for a in range(len(net.arcs))]
        ub = net.distances(source, longest, arcs=on_path)
        for v in nodes_on:
            label[v] = len(x_names)
            x_names.append(f"label({v!r})")
            x_bounds.append((0.0, 0.0 if v == source else ub[v]))
    flow_index = {a: n for n, a in enumerate(on_path)}
    p = BilevelProblem(len(x_names), len(on_path), name=name, x_bounds=x_bounds,
                       x_integer=[True] * len(hit) + [False] * len(label),
                       y_bounds=[(0.0, 1.0)] * len(on_path), x_names=x_names,
                       y_names=[f"flow{net.arcs[a]}" for a in on_path])
    x, y = p.x, p.y

    def length(a):
        return cost[a] + delay[a] * x[hit_pos[a]] if a in hit_pos else cost[a]

    path_length = sum(length(a) * y[j] for a, j in flow_index.items())
    flow = {a: y[j] for a, j in flow_index.items()}
    p.set_lower(path_length, flow_conservation(net, flow, {source: 1.0, sink: -1.0}, nodes_on))
    budget_row = [sum(res[a] * x[n] for n, a in enumerate(hit)) <= budget] if hit else []
    if formulation == "linear":
        dual_feasible = [x[label[net.arcs[a][1]]] - x[label[net.arcs[a][0]]] <= length(a) for a in on_path]
        p.set_upper(x[label[sink]], budget_row + dual_feasible, sense="max")
    else:
        p.set_upper(path_length, budget_row, sense="max")
    p.meta["interdiction"] = InterdictionModel(net, source, sink, budget, hit, flow_index, "shortest_path")
    p.source = "shortest-path interdiction: Israeli & Wood 2002"
    return p


def max_flow_interdiction(arcs, source, sink, budget, interdictable=None, nodes=None,
                          name: str = "max_flow_interdiction") -> BilevelProblem:
    """Wood's max-flow interdiction: remove arcs within a budget to minimise the max flow.

    Parameters
    ----------
    arcs : iterable of ``(tail, head, capacity)`` or ``(tail, head, capacity, resource)``
        with capacity >= 0 and resource >= 0 (default 1)
    source, sink : nodes
    budget : total resource R >= 0
    interdictable : optional ``(tail, head)`` keys; default every arc

    The leader minimises the follower's maximum flow value (``result.F``).
    """
    net = Network.from_arcs(arcs, ("capacity", "resource"), defaults={"resource": 1.0}, nodes=nodes)
    _endpoints(net, source, sink)
    budget = check_number(budget, "budget")
    hit = _interdictable(net, interdictable)
    cap, res = net.data["capacity"], net.data["resource"]
    hit_pos = {a: n for n, a in enumerate(hit)}
    n_arcs = len(net.arcs)
    out_of_source = sum(cap[a] for a in range(n_arcs) if net.arcs[a][0] == source)
    # y[0..n_arcs-1]: arc flows, y[n_arcs]: the flow value v
    y_bounds = [(0.0, None if a in hit_pos else cap[a]) for a in range(n_arcs)]
    p = BilevelProblem(len(hit), n_arcs + 1, name=name, x_bounds=[(0, 1)] * len(hit), x_integer=True,
                       y_bounds=y_bounds + [(0.0, out_of_source)],
                       x_names=[f"interdict{net.arcs[a]}" for a in hit],
                       y_names=[f"flow{arc}" for arc in net.arcs] + ["flow_value"])
    x, y = p.x, p.y
    v = y[n_arcs]
    flow = {a: y[a] for a in range(n_arcs)}
    rows = flow_conservation(net, flow, {source: v, sink: -v}, net.nodes)
    rows += [y[a] <= cap[a] * (1 - x[n]) for a, n in hit_pos.items()]
    p.set_lower(v, rows, sense="max")
    budget_row = [sum(res[a] * x[n] for n, a in enumerate(hit)) <= budget] if hit else []
    p.set_upper(v, budget_row, sense="min")
    p.meta["interdiction"] = InterdictionModel(net, source, sink, budget, hit,
                                               {a: a for a in range(n_arcs)}, "max_flow")
    p.source = "max-flow interdiction: Wood 1993"
    return p


def interdiction_solution(problem: BilevelProblem, result) -> InterdictionSolution:
    """Interdicted arcs, follower flows and the follower's value of an interdiction result."""
    im: InterdictionModel = problem.meta["interdiction"]
    if result.x is None:
        raise BilevelInputError(f"the result has no point (status {result.status})")
    net = im.network
    chosen = [net.arcs[a] for n, a in enumerate(im.interdictable) if result.x[n] > 0.5]
    flows = {net.arcs[a]: float(result.y[j]) for a, j in im.flow_index.items() if abs(result.y[j]) > 1e-7}
    return InterdictionSolution(chosen, flows, float(result.f))


def grid_interdiction_network(k: int, seed: int = 0, cost_range=(1, 10), delay_range=(5, 20)):
    """A k-by-k grid with arcs both ways between neighbours, seeded integer lengths and
    delays; source the top-left corner, sink the bottom-right. Returns
    ``(arcs, source, sink)`` for ``shortest_path_interdiction``."""
    arcs = _grid_arcs(k, seed, (cost_range, delay_range))
    return arcs, (0, 0), (k - 1, k - 1)


def _grid_arcs(k: int, seed: int, ranges) -> list[tuple]:
    """Arcs both ways between neighbours of a k-by-k grid, each ``(tail, head, v_1, ...)``
    with one seeded integer per ``(low, high)`` in ``ranges``, drawn in that order."""
    import numpy as np

    if k < 2:
        raise BilevelInputError(f"grid size must be >= 2, got {k}")
    rng = np.random.default_rng(seed)
    arcs = []
    for r in range(k):
        for c in range(k):
            for dr, dc in ((0, 1), (1, 0)):
                r2, c2 = r + dr, c + dc
                if r2 < k and c2 < k:
                    for a, b in (((r, c), (r2, c2)), ((r2, c2), (r, c))):
                        arcs.append((a, b, *(int(rng.integers(lo, hi + 1)) for lo, hi in ranges)))
    return arcs


def grid_max_flow_network(k: int, seed: int = 0, capacity_range=(1, 20)):
    """A k-by-k grid with arcs both ways between neighbours and seeded integer
    capacities, a source ``"s"`` feeding every node of the left column and a sink ``"t"``
    fed by every node of the right column (those arcs uncapacitated in effect: the sum of
    all grid capacities). Returns ``(arcs, source, sink, interdictable)`` for
    ``max_flow_interdiction``, the grid arcs interdictable."""
    grid = _grid_arcs(k, seed, (capacity_range,))
    big = sum(a[2] for a in grid)
    ends = [("s", (r, 0), big) for r in range(k)] + [((r, k - 1), "t", big) for r in range(k)]
    return grid + ends, "s", "t", [(a, b) for a, b, _ in grid]


__all__ = ["shortest_path_interdiction", "max_flow_interdiction", "interdiction_solution",
           "InterdictionModel", "InterdictionSolution", "grid_interdiction_network",
           "grid_max_flow_network"]
