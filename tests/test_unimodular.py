"""The TU multiplier bound: the recognition test is sound (checked against every square
submatrix's determinant), the bound holds at every vertex of a TU dual (checked by
enumerating bases), and max-flow interdiction solved with it matches enumeration."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bilevel_mp as bmp
from bilevel_mp.reformulations.follower_dual import FollowerDual
from bilevel_mp.reformulations.unimodular import _two_classes, multiplier_bound
from bilevel_mp.structure import detect


def is_tu(M: np.ndarray) -> bool:
    """Every square submatrix has determinant 0, 1 or -1 (brute force)."""
    r, c = M.shape
    for k in range(1, min(r, c) + 1):
        for rows in combinations(range(r), k):
            for cols in combinations(range(c), k):
                d = round(float(np.linalg.det(M[np.ix_(rows, cols)])))
                if d not in (-1, 0, 1):
                    return False
    return True


def columns_of(M: np.ndarray) -> dict:
    """The test's input: the columns' nonzeros of the rows with two or more nonzeros."""
    out: dict = {}
    for k, row in enumerate(M):
        nz = np.flatnonzero(row)
        if nz.size < 2:
            continue
        for j in nz:
            out.setdefault(int(j), []).append((k, float(np.sign(row[j]))))
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([-1, 0, 0, 1]), min_size=16, max_size=16))
def test_recognised_matrices_are_totally_unimodular(entries):
    M = np.array(entries, dtype=float).reshape(4, 4)
    if _two_classes(columns_of(M)):
        assert is_tu(M)


def test_odd_cycle_and_three_nonzeros_are_refused():
    odd = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=float)  # det 2
    assert not is_tu(odd) and not _two_classes(columns_of(odd))
    three = np.array([[1, 0], [1, 1], [1, -1]], dtype=float)
    assert not _two_classes(columns_of(three))
    incidence = np.array([[1, 1, 0, 0], [-1, 0, 1, 0], [0, -1, -1, 1]], dtype=float)
    assert _two_classes(columns_of(incidence)) and is_tu(incidence)


def network_follower(capacity, cost, x_in_rows=True):
    """A min-cost flow follower on arcs s->a, s->b, a->b, a->t, b->t (one unit from s to t)
    with arc a->t interdicted by a binary x; the leader maximises the follower's cost."""
    arcs = [("s", "a"), ("s", "b"), ("a", "b"), ("a", "t"), ("b", "t")]
    p = bmp.BilevelProblem(1, len(arcs), x_bounds=[(0, 1)], x_integer=[True],
                           y_bounds=[(0, None)] * len(arcs))
    x, y = p.x[0], p.y
    rows = []
    for node, supply in (("s", 1), ("a", 0), ("b", 0)):
        out = sum(y[e] for e, (i, _) in enumerate(arcs) if i == node)
        inn = sum(y[e] for e, (_, j) in enumerate(arcs) if j == node)
        rows.append(out - inn == supply)
    for e in range(len(arcs)):
        cap = capacity[e] * (1 - x) if (x_in_rows and e == 3) else capacity[e]
        rows.append(y[e] <= cap)
    f = sum(cost[e] * y[e] for e in range(len(arcs)))
    p.set_upper(f, sense="max").set_lower(f, rows)
    return p


def test_bound_holds_at_every_vertex_of_a_network_dual():
    """||c||_1 bounds every basic solution of {lam >= 0, mu: D^T lam + E^T mu = c}."""
    cost = [3.0, 1.0, 2.0, 1.0, 4.0]
    p = network_follower([1, 1, 1, 1, 1], cost)
    lifted = FollowerDual().apply(p, detect(p))
    ge = [c for c in lifted.lower if c.kind == "ge"]
    eq = [c for c in lifted.lower if c.kind == "eq"]
    bound = multiplier_bound(p, ge + eq)
    assert bound == pytest.approx(sum(cost))
    from bilevel_mp.reformulations.unimodular import _y_coefficients

    index = {id(v): j for j, v in enumerate(p.y)}
    rows = [_y_coefficients(c.body, index) for c in ge + eq]
    D = np.array([[r.get(j, 0.0) for j in range(p.n_y)] for r in rows])
    # standard form z >= 0: columns lam (ge rows), mu+ and mu- (eq rows)
    A = np.hstack([D[:len(ge)].T, D[len(ge):].T, -D[len(ge):].T])
    c = np.array(cost)
    worst = 0.0
    for cols in combinations(range(A.shape[1]), A.shape[0]):
        B = A[:, cols]
        if abs(np.linalg.det(B)) < 1e-9:
            continue
        z = np.linalg.solve(B, c)
        if (z >= -1e-9).all():
            worst = max(worst, float(np.abs(z).max()))
    assert 0 < worst <= bound + 1e-9


def test_interdicting_a_network_follower_with_the_bound_matches_enumeration():
    """The bound's linear rows (a MILP for HiGHS) give the optimum of trying both x."""
    cost = [3.0, 1.0, 2.0, 1.0, 4.0]
    p = network_follower([1, 1, 1, 1, 1], cost)
    lifted = FollowerDual().apply(p, detect(p))
    assert any("totally unimodular" in n for n in lifted.slm.notes) and not lifted.slm.indicators
    r = bmp.solve(p)
    # x = 0: cheapest s-t path s-a-t = 4; x = 1 removes a->t: min(s-a-b-t 9, s-b-t 5) = 5
    assert r.status == "optimal" and r.certified and r.x[0] == 1 and r.F == pytest.approx(5.0)


def test_non_unit_coefficients_keep_the_indicators():
    p = network_follower([1, 1, 1, 1, 1], [3.0, 1.0, 2.0, 1.0, 4.0])
    p2 = bmp.BilevelProblem(1, 2, x_bounds=[(0, 1)], x_integer=[True], y_bounds=[(0, 5), (0, 5)])
    x, y = p2.x[0], p2.y
    f = y[0] + y[1]
    p2.set_upper(f, sense="max").set_lower(f, [2 * y[0] + y[1] >= 2 - x, y[0] + 3 * y[1] >= 1])
    lifted = FollowerDual().apply(p2, detect(p2))
    assert multiplier_bound(p2, [c for c in lifted.lower]) is None
    assert lifted.slm.indicators and not any("totally unimodular" in n for n in lifted.slm.notes)
    r = bmp.solve(p2)
    # x = 0: min y0 + y1 s.t. 2y0 + y1 >= 2, y0 + 3y1 >= 1 -> 1 at (1, 0); x = 1: 2y0 + y1 >= 1
    # -> 0.6 at (0.4, 0.2)
    assert r.status == "optimal" and r.F == pytest.approx(1.0) and r.x[0] == 0
    assert multiplier_bound(p, [c for c in FollowerDual().apply(p, detect(p)).lower]) is not None


@pytest.mark.parametrize("more", [True, False])
def test_free_multipliers_times_binary_become_linear_rows(more):
    """A supply that moves with x puts mu·x in the dual objective: with the TU bound it is
    written exactly by four linear rows (HiGHS takes the model), and the answer is the best
    of both x (each follower LP solved by scipy)."""
    from scipy.optimize import linprog

    from bilevel_mp.backends import highs

    arcs = [("s", "a"), ("s", "b"), ("a", "b"), ("a", "t"), ("b", "t")]
    nodes = ["s", "a", "b", "t"]
    cost = [3.0, 1.0, 2.0, 1.0, 4.0]
    cap = [2.0, 1.0, 2.0, 1.0, 2.0]

    def supply(x):  # x = 1 closes the s->b arc and ships one unit more (more) or less
        units = 1 + x if more else 2 - x
        return {"s": units, "t": -units}

    p = bmp.BilevelProblem(1, len(arcs), x_bounds=[(0, 1)], x_integer=[True],
                           y_bounds=[(0, None)] * len(arcs))
    x, y = p.x[0], p.y
    rows = []
    for v in nodes[:-1]:
        out = sum(y[e] for e, (i, _) in enumerate(arcs) if i == v)
        inn = sum(y[e] for e, (_, j) in enumerate(arcs) if j == v)
        rows.append(out - inn == supply(x).get(v, 0))
    rows += [y[e] <= (cap[e] * (1 - x) if e == 1 else cap[e]) for e in range(len(arcs))]
    f = sum(cost[e] * y[e] for e in range(len(arcs)))
    p.set_upper(f, sense="max").set_lower(f, rows)
    lifted = FollowerDual().apply(p, detect(p))
    assert any("totally unimodular" in n for n in lifted.slm.notes)
    assert highs.accepts(lifted.slm) and not lifted.slm.indicators
    assert any(v.lb is None for v in lifted.slm.m.dual_times_x.values())  # a product with a free mu

    best = -np.inf
    for xv in (0, 1):
        A = np.zeros((3, len(arcs)))
        for e, (i, j) in enumerate(arcs):
            for r, v in enumerate(nodes[:-1]):
                A[r, e] += (i == v) - (j == v)
        b = [supply(xv).get(v, 0) for v in nodes[:-1]]
        ub = [cap[e] * (1 - xv) if e == 1 else cap[e] for e in range(len(arcs))]
        res = linprog(cost, A_eq=A, b_eq=b, bounds=list(zip([0] * len(arcs), ub)), method="highs")
        if res.status == 0:
            best = max(best, res.fun)
    r = bmp.solve(p)
    assert r.status == "optimal" and r.certified and r.solver == "highs"
    # more: 4 at x = 0, 6 + 1 + 6 = 13 at x = 1; less: 4 + 5 = 9 at x = 0, 4 at x = 1
    assert (best, r.x[0]) == ((13.0, 1) if more else (9.0, 0))
    assert r.F == pytest.approx(best, rel=1e-9)


def test_capacity_the_leader_opens_takes_the_other_sign():
    """Rows y_e <= x_e (the leader opens arcs, exactly two of four; unit capacities, so they
    bind) give products with a positive x coefficient (the c > 0 case of the linear rows);
    the leader maximises the follower's cheapest cost of shipping 2 units, checked against
    all six choices (some leave the follower infeasible)."""
    from itertools import combinations

    from scipy.optimize import linprog

    arcs = [("s", "a", 1.0), ("s", "b", 4.0), ("a", "t", 2.0), ("b", "t", 1.0), ("s", "t", 6.0),
            ("a", "b", 1.0)]
    openable = [0, 1, 2, 4]
    nodes = ["s", "a", "b"]
    p = bmp.BilevelProblem(len(openable), len(arcs), x_bounds=[(0, 1)] * len(openable),
                           x_integer=[True] * len(openable), y_bounds=[(0, None)] * len(arcs))
    x, y = p.x, p.y
    rows = []
    for v in nodes:
        out = sum(y[e] for e, (i, _, _) in enumerate(arcs) if i == v)
        inn = sum(y[e] for e, (_, j, _) in enumerate(arcs) if j == v)
        rows.append(out - inn == (2 if v == "s" else 0))
    rows += [y[e] <= x[openable.index(e)] if e in openable else y[e] <= 1 for e in range(len(arcs))]
    f = sum(c * y[e] for e, (_, _, c) in enumerate(arcs))
    p.set_upper(f, [sum(x.values()) == 2], sense="max").set_lower(f, rows)
    lifted = FollowerDual().apply(p, detect(p))
    assert any("totally unimodular" in n for n in lifted.slm.notes) and not lifted.slm.indicators

    A = np.array([[(i == v) - (j == v) for (i, j, _) in arcs] for v in nodes], dtype=float)
    best = -np.inf
    for chosen in combinations(range(len(openable)), 2):
        ub = [1.0 * (openable.index(e) in chosen) if e in openable else 1.0 for e in range(len(arcs))]
        res = linprog([c for _, _, c in arcs], A_eq=A, b_eq=[2, 0, 0], bounds=[(0, u) for u in ub],
                      method="highs")
        if res.status == 0:
            best = max(best, res.fun)
    for r in (bmp.solve(p), bmp.solve(p, method="follower_dual")):  # auto has later stages
        assert r.status == "optimal" and r.certified and r.F == pytest.approx(best, rel=1e-9)
        assert "not proven" not in r.message
