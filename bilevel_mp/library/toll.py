"""Toll setting on a multicommodity network.

Labbé, Marcotte & Savard (1998), "A bilevel model of taxation and its application to
optimal highway pricing", Management Science 44(12); multicommodity network form of
Brotcorne, Labbé, Marcotte & Savard (2001), Transportation Science 35(4)::

    max_t   sum_k sum_{a in A1} t_a y^k_a                     (leader: toll revenue)
    s.t.    0 <= t_a <= cap_a                (a in A1, the tollable arcs)
            y in argmin_y  sum_k sum_a (c_a + t_a) y^k_a     (followers: shortest paths)
                 s.t.  flow conservation of demand d_k from o_k to d_k,  y >= 0

``toll_setting`` builds this as a ``BilevelProblem`` for ``bilevel_mp.solve``. The
revenue t·y is bilinear; by default (``formulation="linear"``) it is written through the
follower's LP duality, which makes the leader's objective linear: the leader also holds,
per commodity, node labels u^k (the follower's dual variables) with

    u^k_{o_k} = 0,   u^k_j - u^k_i <= c_a + t_a   for every arc a = (i, j),
    revenue  =  sum_k d_k u^k_{d_k}  -  sum_k sum_a c_a y^k_a .

Every such u^k is a lower bound on the distances (weak duality), so the expression never
exceeds t·y at a follower-optimal y, and the leader attains t·y by choosing the true
distances (strong duality): the bilevel optimum and the optimal tolls are unchanged, and
the certificate re-solves the very same follower. ``formulation="bilinear"`` keeps the
revenue as t·y.

``Network`` (the arc-list parser and graph helpers) lives in ``library.network``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable

import numpy as np

from ..errors import BilevelInputError
from ..problem import BilevelProblem
from .network import Network, check_number, flow_conservation

FORMULATIONS = ("linear", "bilinear")


# --------------------------------------------------------------------------- network
@dataclass(frozen=True)
class Commodity:
    origin: Hashable
    destination: Hashable
    demand: float


def _commodities(net: Network, commodities) -> list[Commodity]:
    out = []
    for k, c in enumerate(commodities):
        try:
            o, d, q = c
        except (TypeError, ValueError):
            raise BilevelInputError(f"commodity #{k} {c!r}: expected (origin, destination, demand)") from None
        net.node(o, f"commodity #{k}: origin")
        net.node(d, f"commodity #{k}: destination")
        if o == d:
            raise BilevelInputError(f"commodity #{k}: origin and destination are both {o!r}")
        q = check_number(q, f"demand of commodity #{k} ({o!r} -> {d!r})")
        if q <= 0:
            raise BilevelInputError(f"demand of commodity #{k} ({o!r} -> {d!r}) must be > 0, got {q:g}")
        out.append(Commodity(o, d, q))
    if not out:
        raise BilevelInputError("no commodities given")
    return out


def _tolled(net: Network, tolled, toll_caps) -> dict[int, float | None]:
    """Arc position -> user cap (None: uncapped)."""
    caps = {}
    if isinstance(tolled, dict):
        caps = {key: cap for key, cap in tolled.items() if cap is not None}
    caps.update(toll_caps or {})  # an explicit toll_caps entry wins
    keys = list(tolled)
    out: dict[int, float | None] = {}
    for key in keys:
        a = net.arc(key, "tolled arc")
        if a in out:
            raise BilevelInputError(f"tolled arc {tuple(key)!r} is listed twice")
        cap = caps.get(tuple(key))
        out[a] = None if cap is None else check_number(cap, f"toll cap of arc {tuple(key)!r}")
    for key in caps:
        if net.arc(key, "toll cap for arc") not in out:
            raise BilevelInputError(f"toll cap given for arc {tuple(key)!r}, which is not tolled")
    if not out:
        raise BilevelInputError("no tolled arcs given")
    return out


def _implied_caps(net: Network, comms: list[Commodity], tolled: dict, arcs_of: list) -> dict[int, float]:
    """The smallest toll that diverts every commodity from each tolled arc.

    A path through a = (i, j) costs at least  dist0(o, i) + c_a + dist0(j, d) + t_a
    (dist0: tolls at zero), and the toll-free path costs L_free. Above the difference
    no commodity uses a; lowering such a toll to the difference keeps every follower
    optimum optimal, so capping there loses no revenue (optimistic followers)."""
    cost = net.data["cost"]
    free_arcs = [a for a in range(len(net.arcs)) if a not in tolled]
    implied = {a: 0.0 for a in tolled}
    for c in comms:
        d_from = net.distances(c.origin, cost)
        d_to = net.distances(c.destination, cost, reverse=True)
        free = net.distances(c.origin, cost, arcs=free_arcs).get(c.destination, math.inf)
        for a in tolled:
            if a not in arcs_of:
                continue
            i, j = net.arcs[a]
            if i not in d_from or j not in d_to:
                continue
            implied[a] = max(implied[a], free - (d_from[i] + cost[a] + d_to[j]))
    return implied


def toll_setting(arcs, commodities, tolled, toll_caps: dict | None = None, nodes=None,
                 formulation: str = "linear", name: str = "toll_setting") -> BilevelProblem:
    """Build the toll-setting bilevel problem on a network given as edge lists.

    Parameters
    ----------
    arcs : iterable of ``(tail, head, cost)``, cost >= 0 (the travel cost without toll)
    commodities : iterable of ``(origin, destination, demand)``, demand > 0
    tolled : iterable of ``(tail, head)`` keys of the tollable arcs, or a dict
        ``{(tail, head): cap or None}``
    toll_caps : optional ``{(tail, head): cap}``; a toll without a cap is capped at the
        level above which no commodity would use the arc (no revenue is lost). If some
        commodity can reach that arc but has no toll-free path, the revenue is
        unbounded and a ``BilevelInputError`` (a ``ValueError``) asks for a cap.
    nodes : optional node list; arcs and commodities on other nodes are then errors
    formulation : ``"linear"`` (default: revenue through the follower's duality, see the
        module docstring) or ``"bilinear"`` (revenue t·y)

    Returns a ``BilevelProblem`` (leader maximises revenue) whose ``meta["toll"]`` is the
    ``TollModel`` used by ``toll_solution`` to read tolls and flows from a result.
    Each commodity's flow variables cover only the arcs on some origin-destination path
    and are bounded by its demand (neither changes the followers' optimal value).
    """
    if formulation not in FORMULATIONS:
        raise BilevelInputError(f"formulation must be one of {FORMULATIONS}, got {formulation!r}")
    net = Network.from_arcs(arcs, ("cost",), nodes=nodes)
    comms = _commodities(net, commodities)
    tolled_caps = _tolled(net, tolled, toll_caps)
    cost = net.data["cost"]

    arcs_k = []
    for k, c in enumerate(comms):
        on_path = net.path_arcs(c.origin, c.destination)
        if not on_path:
            raise BilevelInputError(
                f"commodity #{k}: no path from {c.origin!r} to {c.destination!r}")
        arcs_k.append(on_path)
    used = set().union(*arcs_k)
    implied = _implied_caps(net, comms, tolled_caps, used)
    caps = {}
    for a, user_cap in tolled_caps.items():
        if a not in used:
            caps[a] = 0.0 if user_cap is None else user_cap  # no commodity can use it
            continue
        bound = implied[a]
        if user_cap is None and not math.isfinite(bound):
            users = [k for k in range(len(comms)) if a in arcs_k[k]]
            raise BilevelInputError(
                f"the toll on arc {net.arcs[a]!r} is unbounded: commodity #{users[0]} can use it "
                "and has no toll-free path; give a toll cap for this arc")
        caps[a] = max(0.0, bound if user_cap is None else min(user_cap, bound))

    toll_arcs = list(tolled_caps)
    toll_pos = {a: n for n, a in enumerate(toll_arcs)}
    full_toll = [cost[a] + caps.get(a, 0.0) for a in range(len(net.arcs))]
    label_index: list[dict] = []
    label_bounds: list[tuple] = []
    if formulation == "linear":
        nx = len(toll_arcs)
        for k, c in enumerate(comms):
            nodes_k = {net.arcs[a][0] for a in arcs_k[k]} | {net.arcs[a][1] for a in arcs_k[k]}
            ub = net.distances(c.origin, full_toll, arcs=arcs_k[k])
            idx = {}
            for node in net.nodes:
                if node in nodes_k:
                    idx[node] = nx
                    nx += 1
                    label_bounds.append((0.0, 0.0 if node == c.origin else ub[node]))
            label_index.append(idx)
    flow_index = []
    ny = 0
    for k in range(len(comms)):
        flow_index.append({a: ny + n for n, a in enumerate(arcs_k[k])})
        ny += len(arcs_k[k])

    x_names = [f"toll{net.arcs[a]}" for a in toll_arcs]
    for k, idx in enumerate(label_index):
        x_names += [f"label[{k}]({node!r})" for node in idx]
    y_names = [f"flow[{k}]{net.arcs[a]}" for k in range(len(comms)) for a in arcs_k[k]]
    y_bounds = [(0.0, comms[k].demand) for k in range(len(comms)) for _ in arcs_k[k]]
    p = BilevelProblem(len(x_names), ny, name=name,
                       x_bounds=[(0.0, caps[a]) for a in toll_arcs] + label_bounds,
                       y_bounds=y_bounds, x_names=x_names, y_names=y_names)
    x, y = p.x, p.y

    def arc_cost(a):
        return cost[a] + x[toll_pos[a]] if a in toll_pos else cost[a]

    follower_cost = sum(arc_cost(a) * y[j] for fk in flow_index for a, j in fk.items())
    conservation = []
    for k, c in enumerate(comms):
        flow = {a: y[j] for a, j in flow_index[k].items()}
        ends = {v for a in flow for v in net.arcs[a]}
        nodes_k = [v for v in net.nodes if v in ends]
        conservation += flow_conservation(net, flow, {c.origin: c.demand, c.destination: -c.demand},
                                          nodes_k)
    p.set_lower(follower_cost, conservation)
    if formulation == "linear":
        labels, dual_feasible = 0, []
        for k, c in enumerate(comms):
            u = label_index[k]
            labels += c.demand * x[u[c.destination]]
            labels -= sum(cost[a] * y[j] for a, j in flow_index[k].items())
            for a in arcs_k[k]:
                i, j = net.arcs[a]
                dual_feasible.append(x[u[j]] - x[u[i]] <= arc_cost(a))
        p.set_upper(labels, dual_feasible, sense="max")
    else:
        revenue = sum(x[toll_pos[a]] * y[j] for fk in flow_index for a, j in fk.items() if a in toll_pos)
        p.set_upper(revenue, [], sense="max")
    p.meta["toll"] = TollModel(net, comms, toll_arcs, caps, flow_index, formulation)
    p.source = "toll setting: Labbé, Marcotte & Savard 1998; Brotcorne, Labbé, Marcotte & Savard 2001"
    return p


@dataclass
class TollModel:
    """How a toll-setting problem's variables map back to the network."""

    network: Network
    commodities: list[Commodity]
    toll_arcs: list[int]  # arc positions, in the order of x[0..]
    caps: dict  # arc position -> toll cap used
    flow_index: list[dict]  # per commodity: arc position -> y index
    formulation: str


@dataclass
class TollSolution:
    tolls: dict  # (tail, head) -> toll
    flows: list[dict]  # per commodity: (tail, head) -> flow (nonzero only)
    revenue: float  # sum of toll * flow, recomputed from x and y


def toll_solution(problem: BilevelProblem, result) -> TollSolution:
    """Tolls, per-commodity arc flows and the revenue t·y of a result of ``toll_setting``.

    Optimal tolls sit where a toll route and a toll-free route cost the same, and the
    solver's tolerances may place them a hair past that point (the certificate accepts
    follower gaps up to 1e-4 relative): followers that optimise exactly may then leave
    the toll route. ``toll_response(problem, sol.tolls)`` shows what they would do."""
    tm: TollModel = problem.meta["toll"]
    if result.x is None:
        raise BilevelInputError(f"the result has no point (status {result.status})")
    net = tm.network
    tolls = {net.arcs[a]: float(result.x[n]) for n, a in enumerate(tm.toll_arcs)}
    flows = [{net.arcs[a]: float(result.y[j]) for a, j in fk.items() if abs(result.y[j]) > 1e-7}
             for fk in tm.flow_index]
    revenue = float(sum(tolls.get(net.arcs[a], 0.0) * result.y[j]
                        for fk in tm.flow_index for a, j in fk.items()))
    return TollSolution(tolls, flows, revenue)


def toll_response(problem: BilevelProblem, tolls: dict) -> TollSolution:
    """The followers' optimistic response to given tolls ``{(tail, head): toll}`` (tolled
    arcs not named are at 0): per commodity, among the least-cost flows (arcs on a
    shortest path by Dijkstra), the one paying the most toll (an LP, HiGHS through
    scipy): the leader-favourable tie-break that ``bilevel_mp.solve`` assumes. Used to
    draw revenue curves."""
    from scipy.optimize import linprog

    tm: TollModel = problem.meta["toll"]
    net = tm.network
    t = np.zeros(len(net.arcs))
    for key, value in tolls.items():
        a = net.arc(key, "toll for arc")
        if a not in tm.toll_arcs:
            raise BilevelInputError(f"arc {tuple(key)!r} is not tolled")
        t[a] = check_number(value, f"toll of arc {tuple(key)!r}")
    cost = np.asarray(net.data["cost"])
    flows, revenue = [], 0.0
    for c, fk in zip(tm.commodities, tm.flow_index):
        arcs = list(fk)
        total = cost[arcs] + t[arcs]
        dist = net.distances(c.origin, cost + t, arcs=arcs)
        # arcs off every shortest path (positive reduced cost) carry no flow; among the
        # least-cost flows left, the followers pay the most toll (optimistic tie-break)
        tight = [abs(dist[net.arcs[a][0]] + total[n] - dist[net.arcs[a][1]])
                 <= 1e-9 * max(1.0, dist[c.destination]) for n, a in enumerate(arcs)]
        nodes = list(dict.fromkeys(v for a in arcs for v in net.arcs[a]))
        A = np.zeros((len(nodes), len(arcs)))
        for n, a in enumerate(arcs):
            A[nodes.index(net.arcs[a][0]), n] += 1
            A[nodes.index(net.arcs[a][1]), n] -= 1
        rhs = np.array([c.demand if v == c.origin else -c.demand if v == c.destination else 0.0
                        for v in nodes])
        bounds = [(0.0, c.demand if ok else 0.0) for ok in tight]
        lp = linprog(-t[arcs], A_eq=A, b_eq=rhs, bounds=bounds, method="highs")
        if lp.status != 0:
            raise BilevelInputError(f"follower LP failed for {c}: {lp.message}")
        flows.append({net.arcs[a]: float(lp.x[n]) for n, a in enumerate(arcs) if abs(lp.x[n]) > 1e-9})
        revenue += float(t[arcs] @ lp.x)
    return TollSolution({net.arcs[a]: float(t[a]) for a in tm.toll_arcs}, flows, revenue)


def grid_network(k: int, seed: int = 0, cost_range=(1, 10), toll_share: float = 0.3,
                 n_commodities: int = 2):
    """A k-by-k grid with arcs both ways between neighbours, integer costs drawn from
    ``cost_range`` (seeded), a random share of arcs tollable, and commodities between
    opposite corners/edges. Returns ``(arcs, tolled, commodities)`` for ``toll_setting``;
    the tolled arcs avoid the grid's outer ring, so a toll-free path always exists."""
    if k < 2:
        raise BilevelInputError(f"grid size must be >= 2, got {k}")
    rng = np.random.default_rng(seed)
    arcs, interior = [], []
    for r in range(k):
        for c in range(k):
            for dr, dc in ((0, 1), (1, 0)):
                r2, c2 = r + dr, c + dc
                if r2 >= k or c2 >= k:
                    continue
                for a, b in (((r, c), (r2, c2)), ((r2, c2), (r, c))):
                    arcs.append((a, b, int(rng.integers(cost_range[0], cost_range[1] + 1))))
                    ring = lambda v: v[0] in (0, k - 1) or v[1] in (0, k - 1)  # noqa: E731
                    if not (ring(a) and ring(b)):
                        interior.append((a, b))
    n_toll = max(1, int(round(toll_share * len(interior)))) if interior else 0
    pick = rng.choice(len(interior), size=n_toll, replace=False) if n_toll else []
    tolled = [interior[i] for i in sorted(pick)]
    corners = [((0, 0), (k - 1, k - 1)), ((0, k - 1), (k - 1, 0)), ((k - 1, 0), (0, k - 1)),
               ((k - 1, k - 1), (0, 0))]
    commodities = [(o, d, float(1 + i)) for i, (o, d) in enumerate(corners[:n_commodities])]
    return arcs, tolled, commodities


__all__ = ["Network", "Commodity", "TollModel", "TollSolution", "toll_setting", "toll_solution", "toll_response",
           "grid_network", "flow_conservation"]
