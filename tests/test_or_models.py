"""OR models (issue 8): toll setting, interdiction, Stackelberg pricing, and a bilevel
block inside a Pyomo capacity plan. Every optimum from ``bilevel_mp.solve`` is checked
against an independent computation written here from the raw data (path enumeration,
enumeration of leader decisions with scipy's ``linprog`` as the follower, vertex
enumeration), never against the library's own helpers."""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog

import bilevel_mp as bmp
from bilevel_mp.library.interdiction import (
    grid_interdiction_network,
    interdiction_solution,
    max_flow_interdiction,
    shortest_path_interdiction,
)
from bilevel_mp.library.pricing import pricing_solution, stackelberg_pricing
from bilevel_mp.library.toll import grid_network, toll_response, toll_setting, toll_solution

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-6  # the certificate's feasibility tolerance (relative to the scale, at least 1)


def close(value, exact):
    """Equal up to the certificate's tolerance, 1e-6 * max(1, |exact|)."""
    return abs(value - exact) <= TOL * max(1.0, abs(exact))


def _load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_proven(result):
    assert result.status == "optimal", result.summary()
    assert result.certified, result.summary()


# --------------------------------------------------------------------------- toll setting
def simple_paths(arcs, origin, destination):
    """Every simple origin-destination path, as a list of (tail, head) arcs."""
    adj = {}
    for tail, head, *_ in arcs:
        adj.setdefault(tail, []).append(head)
    out, path, seen = [], [], {origin}

    def dfs(v):
        if v == destination:
            out.append(list(path))
            return
        for w in adj.get(v, ()):
            if w not in seen:
                seen.add(w)
                path.append((v, w))
                dfs(w)
                path.pop()
                seen.remove(w)

    dfs(origin)
    return out


def enumerated_revenue(arcs, commodities, tolls, tie=1e-9):
    """Revenue at ``tolls`` with optimistic followers, by enumerating simple paths: each
    commodity takes a cheapest path, the one paying the most toll among ties (with
    nonnegative costs some shortest path is simple)."""
    cost = {(i, j): c for i, j, c in arcs}
    total = 0.0
    for o, d, q in commodities:
        options = [(sum(cost[a] + tolls.get(a, 0.0) for a in p), sum(tolls.get(a, 0.0) for a in p))
                   for p in simple_paths(arcs, o, d)]
        best = min(c for c, _ in options)
        total += q * max(r for c, r in options if c <= best + tie * max(1.0, abs(best)))
    return total


def grid_optimum(arcs, commodities, toll_keys, caps, step=0.5):
    """Best revenue over the grid of tolls {0, step, 2 step, ...} x ... up to the caps."""
    axes = [np.arange(0.0, cap + 1e-9, step) for cap in caps]
    best, arg = -np.inf, None
    for t in itertools.product(*axes):
        r = enumerated_revenue(arcs, commodities, dict(zip(toll_keys, t)))
        if r > best + 1e-12:
            best, arg = r, t
    return best, arg


# Two tolls, three commodities (written for this test): C->D is shared by A->F (demand 1,
# toll-free alternative 5 dearer) and B->F (demand 3, alternative 3 dearer); A->G (demand
# 2) pays both tolls or takes a route 6 dearer. Revenue t1 [t1<=5] + 3 t1 [t1<=3] +
# 2 (t1 + t2) [t1 + t2 <= 6]: the optimum t = (3, 3), revenue 24, is interior to the caps.
TWO_TOLL_ARCS = [("A", "C", 1), ("B", "C", 1), ("C", "D", 1), ("D", "F", 1), ("D", "G", 1),
                 ("A", "F", 8), ("B", "F", 6), ("A", "G", 9), ("C", "F", 9)]
TWO_TOLL_COMMODITIES = [("A", "F", 1.0), ("B", "F", 3.0), ("A", "G", 2.0)]
TWO_TOLLS = {("C", "D"): 10.0, ("D", "G"): 10.0}


def test_toll_figure_network_matches_formula_and_grid():
    """One toll: the optimum is (toll-free route cost 7) - (tolled route cost 5) = 2,
    revenue 2 * demand 2 = 4; a 0.05-step grid by path enumeration agrees."""
    ex = _load_example("toll_setting")
    problem, result = ex.solve()
    _assert_proven(result)
    sol = toll_solution(problem, result)
    assert sol.tolls[("A", "B")] == pytest.approx(2.0, abs=TOL)
    assert result.F == pytest.approx(4.0, abs=TOL)
    assert sol.revenue == pytest.approx(4.0, abs=TOL)
    grid = np.linspace(0.0, 6.0, 121)
    revenues = [enumerated_revenue(ex.ARCS, ex.COMMODITIES, {("A", "B"): t}) for t in grid]
    assert max(revenues) == pytest.approx(result.F, abs=TOL)
    assert grid[int(np.argmax(revenues))] == pytest.approx(sol.tolls[("A", "B")], abs=TOL)
    # the curves drawn in the figure (toll_response) agree with path enumeration
    for t in (0.0, 1.3, 2.0, 2.05, 5.0):
        assert toll_response(problem, {("A", "B"): t}).revenue == pytest.approx(
            enumerated_revenue(ex.ARCS, ex.COMMODITIES, {("A", "B"): t}), abs=TOL)


@pytest.mark.parametrize("formulation,method,mode", [("linear", "auto", "sos1"), ("linear", "kkt", "indicator"),
                                                     ("bilinear", "auto", "sos1")])
def test_toll_two_tolls_against_half_integer_grid(formulation, method, mode):
    """With integer costs and caps, the breakpoints of the revenue over two tolls solve
    2x2 systems with coefficients in {-1, 0, 1}, so they are half-integral and the
    optimistic revenue (piecewise linear, upper semicontinuous) attains its maximum on
    the grid of step 0.5: the grid maximum is the exact optimum."""
    p = toll_setting(TWO_TOLL_ARCS, TWO_TOLL_COMMODITIES, TWO_TOLLS, formulation=formulation)
    r = bmp.solve(p, method=method, mode=mode)
    _assert_proven(r)
    keys = list(TWO_TOLLS)
    best, arg = grid_optimum(TWO_TOLL_ARCS, TWO_TOLL_COMMODITIES, keys, [TWO_TOLLS[k] for k in keys])
    assert close(r.F, best)
    sol = toll_solution(p, r)
    # followers that optimise exactly at the returned tolls pay the same revenue
    assert close(enumerated_revenue(TWO_TOLL_ARCS, TWO_TOLL_COMMODITIES, sol.tolls), best)
    assert close(sol.revenue, best)
    assert best == pytest.approx(24.0) and arg == (3.0, 3.0)  # the hand derivation above


@pytest.mark.parametrize("formulation", ["linear", "bilinear"])
def test_toll_two_tolls_strong_duality(formulation):
    """Strong duality (SCIP's spatial branch-and-bound on the bilinear duality row) finds
    tolls within 1e-6 of the grid optimum, but they may sit a hair past the breakpoint,
    where the follower's exact response leaves the toll road (see ``toll_response``). Such
    an answer is optimal only to the certificate's tolerance, so it is never reported
    ``optimal``: the returned flows are the exact response, and its revenue is honest."""
    p = toll_setting(TWO_TOLL_ARCS, TWO_TOLL_COMMODITIES, TWO_TOLLS, formulation=formulation)
    r = bmp.solve(p, method="strong_duality")
    keys = list(TWO_TOLLS)
    best, arg = grid_optimum(TWO_TOLL_ARCS, TWO_TOLL_COMMODITIES, keys, [TWO_TOLLS[k] for k in keys])
    assert r.certified
    tolls = toll_solution(p, r).tolls
    assert all(close(tolls[k], a) for k, a in zip(keys, arg))
    if r.status == "optimal":
        assert close(r.F, best)
    else:  # the exact (optimistic) response at these tolls: no more revenue than the optimum
        assert r.status == "feasible" and r.F <= best + 1e-6 and r.certificate.ll_gap <= 1e-6


def test_toll_seeded_grid_network_against_grid_search():
    """A seeded 3x3 grid (two tolled arcs, two commodities) from ``grid_network``."""
    arcs, tolled, commodities = grid_network(3, seed=4)
    assert len(tolled) == 2
    p = toll_setting(arcs, commodities, tolled, toll_caps={a: 12 for a in tolled})
    r = bmp.solve(p)
    _assert_proven(r)
    tm = p.meta["toll"]
    caps = [tm.caps[a] for a in tm.toll_arcs]
    assert all(float(c).is_integer() for c in caps)  # implied caps: differences of integer costs
    best, _ = grid_optimum(arcs, commodities, tolled, caps)
    assert best > 0
    assert r.F == pytest.approx(best, rel=TOL, abs=TOL)
    assert enumerated_revenue(arcs, commodities, toll_solution(p, r).tolls) == pytest.approx(best, rel=TOL, abs=TOL)


def test_toll_implied_cap_loses_nothing():
    """The cap derived for an uncapped toll gives the same optimum as a generous cap."""
    ex = _load_example("toll_setting")
    loose = toll_setting(ex.ARCS, ex.COMMODITIES, {("A", "B"): 100.0})
    free = toll_setting(ex.ARCS, ex.COMMODITIES, [("A", "B")])
    assert free.x[0].ub == pytest.approx(2.0)  # 7 - 5: above it nobody uses A->B
    r1, r2 = bmp.solve(loose), bmp.solve(free)
    _assert_proven(r1)
    _assert_proven(r2)
    assert r1.F == pytest.approx(r2.F, abs=TOL)


@pytest.mark.parametrize("kwargs,match", [
    (dict(commodities=[("O", "Z", 1)]), "'Z' is not a node"),
    (dict(tolled=[("A", "D")]), r"\('A', 'D'\) is not an arc"),
    (dict(arcs=[("O", "A", -1), ("A", "D", 1)], tolled=[("A", "D")], commodities=[("O", "D", 1)]),
     r"cost of arc \('O', 'A'\) must be >= 0"),
    (dict(commodities=[("O", "D", 0)]), "must be > 0"),
    (dict(arcs=[("O", "A", 1), ("A", "D", 1)], tolled=[("A", "D")], commodities=[("O", "D", 1)]),
     r"toll on arc \('A', 'D'\) is unbounded"),
    (dict(commodities=[("D", "O", 1)]), "no path from 'D' to 'O'"),
    (dict(nodes=["O", "A", "B"]), "unknown node"),
    (dict(arcs=[("O", "A", 1), ("O", "A", 2), ("A", "D", 1)], tolled=[("A", "D")],
          commodities=[("O", "D", 1)]), "given twice"),
    (dict(formulation="cubic"), "formulation"),
])
def test_toll_bad_input(kwargs, match):
    base = dict(arcs=[("O", "A", 2), ("A", "B", 1), ("B", "D", 2), ("O", "D", 9)],
                commodities=[("O", "D", 1)], tolled=[("A", "B")])
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        toll_setting(**base)


# --------------------------------------------------------------------------- interdiction
def lp_shortest_path(arcs, source, sink, removed_or_delayed):
    """Follower LP at a leader decision: min (c + d x)·y, one unit from source to sink."""
    nodes = sorted({v for a in arcs for v in a[:2]}, key=str)
    A = np.zeros((len(nodes), len(arcs)))
    for k, (i, j, *_) in enumerate(arcs):
        A[nodes.index(i), k] += 1
        A[nodes.index(j), k] -= 1
    b = np.array([1.0 if v == source else -1.0 if v == sink else 0.0 for v in nodes])
    c = np.array([a[2] + (a[3] if k in removed_or_delayed else 0.0) for k, a in enumerate(arcs)])
    res = linprog(c, A_eq=A, b_eq=b, bounds=(0, 1), method="highs")
    assert res.status == 0
    return res.fun


def lp_max_flow(arcs, source, sink, removed):
    """Follower LP at a leader decision: max flow with interdicted arcs at capacity 0."""
    nodes = sorted({v for a in arcs for v in a[:2]}, key=str)
    n = len(arcs)
    A = np.zeros((len(nodes), n + 1))
    for k, (i, j, *_) in enumerate(arcs):
        A[nodes.index(i), k] += 1
        A[nodes.index(j), k] -= 1
    A[nodes.index(source), n] = -1
    A[nodes.index(sink), n] = 1
    bounds = [(0, 0 if k in removed else a[2]) for k, a in enumerate(arcs)] + [(0, None)]
    c = np.zeros(n + 1)
    c[n] = -1
    res = linprog(c, A_eq=A, b_eq=np.zeros(len(nodes)), bounds=bounds, method="highs")
    assert res.status == 0
    return -res.fun


def enumerate_interdictions(arcs, budget, resource, value, better):
    """Best follower value over every arc subset within the budget. Interdicting more
    never helps the follower (delays >= 0, capacities only removed), so only maximal
    subsets (no further arc fits the budget) are evaluated."""
    best, best_set = None, None
    cheapest = min(resource)
    largest = len(arcs) if cheapest <= 0 else min(len(arcs), int(budget // cheapest))
    for size in range(largest + 1):
        for subset in itertools.combinations(range(len(arcs)), size):
            used = sum(resource[k] for k in subset)
            if used > budget + 1e-9:
                continue
            if any(resource[k] <= budget - used + 1e-9 for k in range(len(arcs)) if k not in subset):
                continue  # not maximal
            v = value(set(subset))
            if best is None or better(v, best):
                best, best_set = v, subset
    return best, best_set


@pytest.mark.parametrize("budget", [0, 1, 2, 3])
def test_shortest_path_interdiction_example_vs_enumeration(budget):
    ex = _load_example("interdiction")
    p = shortest_path_interdiction(ex.ROADS, "s", "t", budget)
    r = bmp.solve(p)
    _assert_proven(r)
    best, _ = enumerate_interdictions(ex.ROADS, budget, [1] * len(ex.ROADS),
                                      lambda S: lp_shortest_path(ex.ROADS, "s", "t", S),
                                      lambda a, b: a > b + 1e-9)
    assert r.F == pytest.approx(best, rel=TOL, abs=TOL)
    sol = interdiction_solution(p, r)
    assert len(sol.interdicted) <= budget
    chosen = {k for k, a in enumerate(ex.ROADS) if a[:2] in sol.interdicted}
    assert lp_shortest_path(ex.ROADS, "s", "t", chosen) == pytest.approx(best, rel=TOL, abs=TOL)


def test_shortest_path_interdiction_resources_and_formulations():
    """Seeded 3x3 grid, unequal interdiction resources, budget 4: both formulations and
    strong duality agree with enumerating all feasible interdiction sets."""
    arcs, s, t = grid_interdiction_network(3, seed=1)
    rng = np.random.default_rng(7)
    resource = [int(v) for v in rng.integers(1, 4, size=len(arcs))]
    arcs5 = [a + (r,) for a, r in zip(arcs, resource)]
    best, _ = enumerate_interdictions(arcs, 4, resource, lambda S: lp_shortest_path(arcs, s, t, S),
                                      lambda a, b: a > b + 1e-9)
    for formulation, method in (("linear", "auto"), ("linear", "strong_duality"), ("bilinear", "strong_duality")):
        p = shortest_path_interdiction(arcs5, s, t, 4, formulation=formulation)
        r = bmp.solve(p, method=method, time_limit=60)
        _assert_proven(r)
        assert r.F == pytest.approx(best, rel=TOL, abs=TOL), (formulation, method)
        chosen = [k for k, a in enumerate(arcs) if a[:2] in interdiction_solution(p, r).interdicted]
        assert sum(resource[k] for k in chosen) <= 4


def test_max_flow_interdiction_vs_enumeration():
    ex = _load_example("interdiction")
    flows = {}
    for budget in (0, 1, 2, 3):
        p = max_flow_interdiction(ex.PIPES, "s", "t", budget)
        r = bmp.solve(p)
        _assert_proven(r)
        best, _ = enumerate_interdictions(ex.PIPES, budget, [1] * len(ex.PIPES),
                                          lambda S: lp_max_flow(ex.PIPES, "s", "t", S),
                                          lambda a, b: a < b - 1e-9)
        assert r.F == pytest.approx(best, rel=TOL, abs=TOL)
        chosen = {k for k, a in enumerate(ex.PIPES) if a[:2] in interdiction_solution(p, r).interdicted}
        assert len(chosen) <= budget
        assert lp_max_flow(ex.PIPES, "s", "t", chosen) == pytest.approx(best, rel=TOL, abs=TOL)
        flows[budget] = r.F
    # no interdiction: max flow = min cut, here the source's out-capacity 8 + 6 + 4
    assert flows[0] == pytest.approx(18.0)
    assert flows[0] >= flows[1] >= flows[2] >= flows[3]


def test_max_flow_interdiction_with_resources():
    arcs = [("s", "a", 5, 2), ("s", "b", 4, 1), ("a", "b", 2, 1), ("a", "t", 4, 2), ("b", "t", 6, 3)]
    best, _ = enumerate_interdictions(arcs, 3, [a[3] for a in arcs],
                                      lambda S: lp_max_flow(arcs, "s", "t", S),
                                      lambda a, b: a < b - 1e-9)
    r = bmp.solve(max_flow_interdiction(arcs, "s", "t", 3))
    _assert_proven(r)
    assert r.F == pytest.approx(best, rel=TOL, abs=TOL)


@pytest.mark.parametrize("call,match", [
    (lambda: shortest_path_interdiction([("s", "t", 1, 1)], "s", "x", 1), "sink 'x' is not a node"),
    (lambda: shortest_path_interdiction([("s", "t", 1, -2)], "s", "t", 1), r"delay of arc \('s', 't'\)"),
    (lambda: shortest_path_interdiction([("t", "s", 1, 1)], "s", "t", 1), "no path from source 's'"),
    (lambda: shortest_path_interdiction([("s", "t", 1, 1)], "s", "t", -1), "budget must be >= 0"),
    (lambda: shortest_path_interdiction([("s", "t", 1, 1)], "s", "t", 1, interdictable=[("t", "s")]),
     r"\('t', 's'\) is not an arc"),
    (lambda: max_flow_interdiction([("s", "a", 3), ("a", "t", -1)], "s", "t", 1),
     r"capacity of arc \('a', 't'\) must be >= 0"),
    (lambda: max_flow_interdiction([("s", "a", 3)], "s", "s", 1), "source and sink are both 's'"),
    (lambda: max_flow_interdiction([("s", "a", 3), ("a", "t")], "s", "t", 1), r"expected \(tail, head"),
    (lambda: max_flow_interdiction([("s", "a", 3), ("a", "t", 2)], "s", "t", 1, nodes=["s", "t"]),
     "unknown node 'a'"),
])
def test_interdiction_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- pricing
def buyer_vertices(A, b, supply):
    """Vertices of {z : A z >= b, 0 <= z <= supply} by enumerating active sets."""
    m, n = A.shape
    rows = [(A[i], b[i]) for i in range(m)]                                   # A z >= b
    rows += [(np.eye(n)[j], 0.0) for j in range(n)]                           # z >= 0
    rows += [(-np.eye(n)[j], -supply[j]) for j in range(n) if supply[j] is not None]  # -z >= -s
    G = np.array([r[0] for r in rows])
    h = np.array([r[1] for r in rows])
    out = []
    for active in itertools.combinations(range(len(rows)), n):
        M = G[list(active)]
        if abs(np.linalg.det(M)) < 1e-12:
            continue
        z = np.linalg.solve(M, h[list(active)])
        if np.all(G @ z >= h - 1e-9) and not any(np.allclose(z, w) for w in out):
            out.append(z)
    return out


def pricing_by_vertex_enumeration(requirements, products):
    """Exact optimum: for every buyer vertex z, the best prices that make z optimal for
    the buyer (an LP in the prices: cost(p)·z <= cost(p)·z' for every vertex z'); the
    buyer's costs are nonnegative, so vertices suffice, and the best over the face of
    optima is attained at a vertex (optimistic buyer)."""
    reqs, names = list(requirements), list(products)
    A = np.array([[products[n]["content"].get(r, 0.0) for n in names] for r in reqs], dtype=float)
    b = np.array([requirements[r] for r in reqs], dtype=float)
    supply = [products[n].get("supply") for n in names]
    seller = [j for j, n in enumerate(names) if "price_cap" in products[n]]
    fixed = np.array([products[n].get("price", 0.0) for n in names], dtype=float)
    unit = np.array([products[names[j]].get("unit_cost", 0.0) for j in seller])
    verts = buyer_vertices(A, b, supply)
    best = -np.inf
    for z in verts:
        # variables: the seller's prices; maximise (p - k)·z_S
        c = -z[seller]
        A_ub, b_ub = [], []
        for w in verts:  # p·(z_S - w_S) <= fixed·(w - z)
            A_ub.append(z[seller] - w[seller])
            b_ub.append(fixed @ (w - z))  # fixed is 0 on the seller's products
        bounds = [(products[names[j]].get("price_floor", 0.0), products[names[j]]["price_cap"]) for j in seller]
        res = linprog(c, A_ub=np.array(A_ub), b_ub=np.array(b_ub) + 1e-9, bounds=bounds, method="highs")
        if res.status == 0:
            best = max(best, -res.fun - unit @ z[seller])
    return best


def test_pricing_example_vs_vertex_enumeration():
    ex = _load_example("pricing")
    best = pricing_by_vertex_enumeration(ex.REQUIREMENTS, ex.PRODUCTS)
    for formulation in ("linear", "bilinear"):
        p, r = ex.solve(formulation)
        _assert_proven(r)
        assert r.F == pytest.approx(best, rel=TOL, abs=TOL)
        assert pricing_solution(p, r).profit == pytest.approx(best, rel=TOL, abs=TOL)


def test_pricing_random_instances_vs_vertex_enumeration():
    rng = np.random.default_rng(3)
    for _ in range(3):
        requirements = {"r0": float(rng.integers(2, 8)), "r1": float(rng.integers(2, 8))}
        products = {}
        for j in range(4):
            content = {r: float(rng.integers(0, 3)) for r in requirements}
            content = {r: v for r, v in content.items() if v} or {"r0": 1.0}
            if j < 2:
                products[f"own{j}"] = {"content": content, "price_cap": 15.0,
                                       "unit_cost": float(rng.integers(0, 3)), "supply": 4.0}
            else:
                products[f"rival{j}"] = {"content": content, "price": float(rng.integers(2, 9))}
        products["rival_any"] = {"content": {"r0": 1.0, "r1": 1.0}, "price": 9.0}
        best = pricing_by_vertex_enumeration(requirements, products)
        r = bmp.solve(stackelberg_pricing(requirements, products))
        _assert_proven(r)
        assert r.F == pytest.approx(best, rel=TOL, abs=TOL), products


@pytest.mark.parametrize("products,match", [
    ({"a": {"content": {"zinc": 1}, "price_cap": 5}}, "product 'a' supplies unknown requirement 'zinc'"),
    ({"a": {"content": {"p": 1}, "price_cap": 5, "price": 3}}, "not both"),
    ({"a": {"content": {"p": -1}, "price_cap": 5}}, "amount of 'p' in product 'a' must be >= 0"),
    ({"a": {"content": {"p": 1}, "price_cap": 5, "supply": 1}}, "requirement 'p' = 4 cannot be covered"),
    ({"a": {"content": {"p": 1}, "price_cap": 5, "price_floor": 6}}, "price floor 6 exceeds price cap 5"),
    ({"a": {"content": {"p": 1}, "price": 5}}, "no seller product"),
    ({"a": {"content": {"p": 1}, "price_cap": 5, "colour": "red"}}, "unknown field"),
])
def test_pricing_bad_input(products, match):
    with pytest.raises(ValueError, match=match):
        stackelberg_pricing({"p": 4}, products)


# --------------------------------------------------------------------------- capacity market
def market_social_cost(data, plan):
    """Planner's cost of a build plan under market dispatch: the market LP (least bid
    cost), then among its optima the planner's best (optimistic), by linprog."""
    T, new, old = data["periods"], data["new"], data["existing"]
    gens = list(new) + list(old)
    spec = {**new, **old}
    nq = len(gens) * len(T)
    nv = nq + len(T)
    bid, social = np.zeros(nv), np.zeros(nv)
    bounds = []
    for g in gens:
        for t in T:
            k = gens.index(g) * len(T) + T.index(t)
            h = data["hours"][t]
            bid[k] = h * spec[g]["fuel"]
            social[k] = h * (spec[g]["fuel"] + data["carbon_cost"] * spec[g]["emission"])
            cap = new[g]["size"] * plan[g] * new[g]["avail"][t] if g in new else old[g]["capacity"]
            bounds.append((0, cap))
    for t in T:
        bid[nq + T.index(t)] = social[nq + T.index(t)] = data["hours"][t] * data["voll"]
        bounds.append((0, None))
    A = np.zeros((len(T), nv))
    for t in T:
        for g in gens:
            A[T.index(t), gens.index(g) * len(T) + T.index(t)] = 1
        A[T.index(t), nq + T.index(t)] = 1
    b = np.array([data["demand"][t] for t in T])
    market = linprog(bid, A_eq=A, b_eq=b, bounds=bounds, method="highs")
    assert market.status == 0
    best = linprog(social, A_ub=bid[None, :], b_ub=[market.fun * (1 + 1e-9) + 1e-9], A_eq=A, b_eq=b,
                   bounds=bounds, method="highs")
    assert best.status == 0
    return sum(new[g]["invest"] * plan[g] for g in new) + best.fun


def test_capacity_market_vs_enumeration():
    ex = _load_example("capacity_market")
    data = ex.DATA
    m = ex.build()
    r = bmp.solve(m, time_limit=60)
    _assert_proven(r)
    best, best_plan = np.inf, None
    for ns in itertools.product(range(data["max_modules"] + 1), repeat=len(data["new"])):
        plan = dict(zip(data["new"], ns))
        invest = sum(data["new"][g]["invest"] * plan[g] for g in plan)
        firm = sum(data["new"][g]["firm"] * data["new"][g]["size"] * plan[g] for g in plan) + \
            sum(o["firm"] * o["capacity"] for o in data["existing"].values())
        if invest > data["budget"] + 1e-9 or firm < data["firm_requirement"] - 1e-9:
            continue
        cost = market_social_cost(data, plan)
        if cost < best - 1e-9:
            best, best_plan = cost, plan
    assert r.F == pytest.approx(best, rel=1e-9, abs=TOL)
    built = {g: int(round(m.build[g].value)) for g in data["new"]}  # written back into the model
    assert market_social_cost(data, built) == pytest.approx(best, rel=1e-9, abs=TOL)
    assert built == best_plan
    # the planner who could also dispatch would build something else, which the market
    # then runs at a higher social cost: the bilevel model matters here
    single = ex.build(dispatch_by_planner=True)
    import pyomo.environ as pyo

    pyo.SolverFactory("appsi_highs").solve(single)
    single_plan = {g: int(round(single.build[g].value)) for g in data["new"]}
    assert single_plan != best_plan
    assert market_social_cost(data, single_plan) > best + 1.0


# --------------------------------------------------------------------------- examples
def _run_example(name, *args):
    r = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], capture_output=True,
                       text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_interdiction_script_prints_enumerated_optima():
    ex = _load_example("interdiction")
    out = _run_example("interdiction.py")
    for budget in (0, 1, 2, 3):
        sp, _ = enumerate_interdictions(ex.ROADS, budget, [1] * len(ex.ROADS),
                                        lambda S: lp_shortest_path(ex.ROADS, "s", "t", S),
                                        lambda a, b: a > b + 1e-9)
        mf, _ = enumerate_interdictions(ex.PIPES, budget, [1] * len(ex.PIPES),
                                        lambda S: lp_max_flow(ex.PIPES, "s", "t", S),
                                        lambda a, b: a < b - 1e-9)
        assert f"budget {budget}: optimal, path length {sp + 0.0:g}," in out, out
        assert f"budget {budget}: optimal, max flow {mf + 0.0:g}," in out, out


def test_pricing_script_prints_enumerated_optimum():
    ex = _load_example("pricing")
    best = pricing_by_vertex_enumeration(ex.REQUIREMENTS, ex.PRODUCTS)
    out = _run_example("pricing.py")
    assert f"seller's profit {best:g}" in out, out
    assert f"bilinear formulation: optimal, profit {best:g}" in out, out


def test_capacity_market_script_runs():
    out = _run_example("capacity_market.py")
    assert "capacity_market: optimal" in out and "certified" in out, out
    ex = _load_example("capacity_market")
    m = ex.build()
    r = bmp.solve(m)  # the plan it prints is the one checked by enumeration above
    plan = {g: int(round(m.build[g].value)) for g in ex.DATA["new"]}
    assert f"build {plan}   total social cost {r.F:.1f}" in out, out


def test_toll_example_script_writes_figure(tmp_path):
    out_png = tmp_path / "toll.png"
    out = _run_example("toll_setting.py", "--out", str(out_png))
    # t* = (toll-free route 7) - (tolled route without toll 5); revenue t* x demand 2
    assert "optimal toll {('A', 'B'): 2.0}, revenue 4," in out, out
    assert out_png.stat().st_size > 10_000
