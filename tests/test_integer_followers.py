"""Integer followers through the default path (``bmp.solve``), checked against truths
computed here: brute-force enumeration (``library.enumeration``, no solver code) for
pure-integer problems, enumeration of the integer part with scipy's ``linprog`` for the
continuous part of mixed-integer followers, and a fine grid over a continuous leader.

Random families, each exercising one path of ``value_function`` for integer followers:
general rows (disjunctive cuts, "<= -1" on integral rows), knapsack-type followers the
leader switches off (the branch-and-cut), a continuous leader in the follower's rows
(cut points moved strictly inside), and mixed-integer followers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

import bilevel_mp as bmp
from bilevel_mp import BilevelProblem
from bilevel_mp.library.enumeration import INFEASIBLE, solve_by_enumeration
from bilevel_mp.library.knapsack_interdiction import knapsack_interdiction

TOL = 1e-6


def random_miblp(seed: int, n_x: int = 2, n_y: int = 2, box: int = 3, rows: int = 3,
                 leader_sense: str = "min", x_integer: bool = True) -> BilevelProblem:
    """A random MIBLP with integer data: follower rows a·x + b·y <= c, a leader row, and
    objectives of either sign (so ties, infeasible x and coupling all occur)."""
    rng = np.random.default_rng(seed)
    p = BilevelProblem(n_x, n_y, name=f"rand{seed}", x_bounds=[(0, box)] * n_x, y_bounds=[(0, box)] * n_y,
                       x_integer=x_integer, y_integer=True)
    x, y = p.x, p.y
    A = rng.integers(-4, 5, (rows, n_x))
    B = rng.integers(-4, 5, (rows, n_y))
    c = rng.integers(0, 10, rows) + np.maximum(B, 0).sum(1)  # y = 0 feasible often
    F_x, F_y = rng.integers(-5, 6, n_x), rng.integers(-5, 6, n_y)
    f_y = rng.integers(-5, 6, n_y)
    lead = rng.integers(0, 4, n_x)
    G = [sum(int(lead[i]) * x[i] for i in range(n_x)) <= int(lead.sum() * box // 2 + 1)]
    F = sum(int(F_x[i]) * x[i] for i in range(n_x)) + sum(int(F_y[j]) * y[j] for j in range(n_y))
    p.set_upper(F, G, sense=leader_sense)
    g = [sum(int(A[k, i]) * x[i] for i in range(n_x)) + sum(int(B[k, j]) * y[j] for j in range(n_y)) <= int(c[k])
         for k in range(rows)]
    p.set_lower(sum(int(f_y[j]) * y[j] for j in range(n_y)), g)
    return p


def _check_against(p: BilevelProblem, truth) -> None:
    r = bmp.solve(p, time_limit=60)
    if truth == INFEASIBLE:
        assert r.status == "infeasible", (p.name, r.status, r.message)
        return
    assert r.status == "optimal", (p.name, r.status, r.message)
    assert r.found_by == "value_function" and r.certified and r.certificate.exact
    assert r.F == pytest.approx(truth, abs=TOL), p.name
    # the point itself is bilevel feasible: y is the follower's optimum at x by enumeration
    ev = p.evaluate(r.x, r.y)
    assert ev["G_violation"] <= 1e-9 and ev["g_violation"] <= 1e-9


@pytest.mark.parametrize("seed", range(12))
def test_general_integer_rows_against_enumeration(seed):
    p = random_miblp(seed, leader_sense="max" if seed % 3 == 2 else "min")
    truth = solve_by_enumeration(p)
    _check_against(p, truth if truth == INFEASIBLE else truth.F_star)


@pytest.mark.parametrize("seed", range(3))
def test_three_by_three_against_enumeration(seed):
    p = random_miblp(100 + seed, n_x=3, n_y=3, box=2, rows=4)
    truth = solve_by_enumeration(p)
    _check_against(p, truth if truth == INFEASIBLE else truth.F_star)


def knapsack_by_dp(profits, weights, capacity, banned) -> int:
    capacity = int(capacity)
    best = np.zeros(capacity + 1, dtype=np.int64)
    for p_, w, out in zip(profits, weights, banned):
        p_, w = int(p_), int(w)
        if not out:
            best[w:] = np.maximum(best[w:], best[:capacity + 1 - w] + p_)
    return int(best[capacity])


@pytest.mark.parametrize("seed", range(4))
def test_knapsack_interdiction_branch_and_cut_against_dynamic_program(seed):
    """12 items: the branch-and-cut path (interdiction cuts); truth: every interdiction
    set within budget, each follower knapsack by a dynamic program."""
    p = knapsack_interdiction(12, seed=1000 + seed)
    d = p.meta["knapsack_interdiction"]
    truth = min(knapsack_by_dp(d.profits, d.weights, d.capacity, xs)
                for xs in itertools.product([0, 1], repeat=12)
                if np.dot(d.interdiction_costs, xs) <= d.budget)
    r = bmp.solve(p, time_limit=60)
    assert r.status == "optimal" and r.F == pytest.approx(truth, abs=TOL)
    assert any("interdiction cuts" in a for a in r.assumptions)


def test_continuous_leader_against_a_grid():
    """x continuous in the follower's rows: the rows are not integral, the cut points are
    moved strictly inside. Every grid point's optimistic value is attainable, so an
    optimal F must not exceed the grid's best; the hand solution is F* = -9.5."""
    # min x - 3y, y in argmin { -y : 2y <= 2x + 1, y <= 3, y integer }, x in [0, 3]
    # y = min(3, floor(x + 0.5)): F = x - 3 floor(x + 0.5), lowest at x = 2.5 -> y = 3, F = -6.5
    p = BilevelProblem(1, 1, x_bounds=[(0, 3)], y_bounds=[(0, 3)], y_integer=True)
    x, y = p.x[0], p.y[0]
    p.set_upper(x - 3 * y).set_lower(-y, [2 * y <= 2 * x + 1])
    r = bmp.solve(p, time_limit=60)
    grid = np.linspace(0, 3, 3001)
    best = min(g - 3 * min(3, np.floor(g + 0.5)) for g in grid)
    assert r.status == "optimal" and r.F <= best + TOL and r.F == pytest.approx(-6.5, abs=TOL)


def _mixed_truth(c_I, c_C, A_x, B_I, B_C, rhs, F_x, F_I, F_C, xs, box_I, box_C):
    """Mixed-integer follower: for each integer x, enumerate y_I and solve the LP in y_C
    (scipy), then the optimistic F among the follower's optima by a second LP."""
    best = None
    for x in xs:
        x = np.array(x)
        vals = []
        for yI in itertools.product(range(box_I + 1), repeat=len(c_I)):
            yI = np.array(yI)
            lp = linprog(c_C, A_ub=B_C, b_ub=rhs - A_x @ x - B_I @ yI, bounds=[(0, box_C)] * len(c_C))
            if lp.status == 0:
                vals.append((c_I @ yI + lp.fun, yI))
        if not vals:
            continue
        phi = min(v for v, _ in vals)
        for v, yI in vals:
            if v > phi + 1e-9:
                continue
            A = np.vstack([B_C, c_C[None, :]])
            b = np.concatenate([rhs - A_x @ x - B_I @ yI, [phi - c_I @ yI + 1e-9]])
            lp = linprog(F_C, A_ub=A, b_ub=b, bounds=[(0, box_C)] * len(c_C))
            if lp.status == 0:
                F = F_x @ x + F_I @ yI + lp.fun
                best = F if best is None else min(best, F)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_mixed_integer_follower_against_enumeration_and_lp(seed):
    rng = np.random.default_rng(500 + seed)
    n_x, n_I, n_C, m = 2, 1, 1, 3
    A_x = rng.integers(-3, 4, (m, n_x)).astype(float)
    B_I = rng.integers(-3, 4, (m, n_I)).astype(float)
    B_C = rng.integers(-3, 4, (m, n_C)).astype(float)
    rhs = rng.integers(2, 9, m).astype(float)
    c_I, c_C = rng.integers(-4, 5, n_I).astype(float), rng.integers(-4, 5, n_C).astype(float)
    F_x, F_I, F_C = (rng.integers(-4, 5, k).astype(float) for k in (n_x, n_I, n_C))
    box = 2
    p = BilevelProblem(n_x, n_I + n_C, x_bounds=[(0, box)] * n_x, y_bounds=[(0, box)] * (n_I + n_C),
                       x_integer=True, y_integer=[True] * n_I + [False] * n_C)
    x, y = p.x, p.y
    yI, yC = [y[j] for j in range(n_I)], [y[n_I + j] for j in range(n_C)]
    p.set_upper(sum(F_x[i] * x[i] for i in range(n_x)) + sum(F_I[j] * yI[j] for j in range(n_I))
                + sum(F_C[j] * yC[j] for j in range(n_C)))
    p.set_lower(sum(c_I[j] * yI[j] for j in range(n_I)) + sum(c_C[j] * yC[j] for j in range(n_C)),
                [sum(A_x[k, i] * x[i] for i in range(n_x)) + sum(B_I[k, j] * yI[j] for j in range(n_I))
                 + sum(B_C[k, j] * yC[j] for j in range(n_C)) <= rhs[k] for k in range(m)])
    truth = _mixed_truth(c_I, c_C, A_x, B_I, B_C, rhs, F_x, F_I, F_C,
                         itertools.product(range(box + 1), repeat=n_x), box, box)
    r = bmp.solve(p, time_limit=60)
    if truth is None:
        assert r.status == "infeasible"
        return
    assert r.certified and r.F == pytest.approx(truth, abs=1e-5)
    assert r.status == "optimal", r.message


def test_a_follower_that_is_not_optimal_is_not_certified():
    """The certificate re-solves the follower MILP exactly: a y one unit off is refused."""
    p = random_miblp(3)
    truth = solve_by_enumeration(p)
    assert truth != INFEASIBLE
    from bilevel_mp.core.certify import certify
    good = certify(p, truth.x, truth.y)
    assert good.certified and good.exact and good.ll_gap == pytest.approx(0.0, abs=1e-9)
    for j in range(p.n_y):
        for step in (-1, 1):
            y = truth.y.copy()
            y[j] += step
            ev = p.evaluate(truth.x, y)
            if ev["g_violation"] > 0 or ev["y_bound_violation"] > 0:
                continue
            cert = certify(p, truth.x, y)
            assert cert.certified == (cert.ll_value <= good.ll_value + 1e-9)


def test_a_proof_cannot_rest_on_an_integer_y_feasible_only_by_tolerance():
    """y = 3 needs x >= 2.5 (2y <= 2x + 1); at x = 2.5 - 3e-7 the row is violated by 6e-7,
    inside the certificate's feasibility tolerance, and y = 3 then beats the follower's
    exact optimum (y = 2) by a whole unit: the claim of such a point loses its proof."""
    from bilevel_mp.core.finish import Claim, settle, status_of

    p = BilevelProblem(1, 1, x_bounds=[(0, 3)], y_bounds=[(0, 3)], y_integer=True)
    x, y = p.x[0], p.y[0]
    p.set_upper(x - 3 * y).set_lower(-y, [2 * y <= 2 * x + 1])
    claim = settle(p, Claim(x=np.array([2.5 - 3e-7]), y=np.array([3.0]), proven=True, bound=-6.5000003),
                   certify_time_limit=30)
    assert status_of(claim) != "optimal"
    # at x = 2.5 exactly, y = 3 is the follower's optimum: the same claim keeps its proof
    claim = settle(p, Claim(x=np.array([2.5]), y=np.array([3.0]), proven=True, bound=-6.5), certify_time_limit=30)
    assert status_of(claim) == "optimal"


def test_branch_and_cut_survives_restarts_that_fix_offered_variables():
    """Fuzz case (interdiction 78): SCIP restarts after global fixings, and an offered
    (x, follower response) then sets a fixed variable to another value; that point is
    skipped, not passed to SCIP (which used to abort with "unspecified error")."""
    profits = [68, 82, 37, 22, 72, 74, 53, 97, 11, 40]
    weights = [69, 37, 64, 88, 84, 17, 54, 59, 33, 57]
    costs = [71, 95, 41, 47, 20, 69, 79, 60, 95, 72]
    p = knapsack_interdiction(profits=profits, weights=weights, capacity=373, interdiction_costs=costs,
                              budget=440)
    truth = min(knapsack_by_dp(profits, weights, 373, xs) for xs in itertools.product([0, 1], repeat=10)
                if np.dot(costs, xs) <= 440)
    r = bmp.solve(p, time_limit=60)
    assert r.status == "optimal" and r.F == pytest.approx(truth, abs=TOL), r.message


def test_follower_milp_re_solves_match_fresh_solves():
    """A kept-alive HiGHS MIP used to stop at the previous x's optimum (-47 where the
    optimum is -75): every re-solve must equal a fresh model's (fuzz case interdiction 1160)."""
    from bilevel_mp.algorithms.follower_milp import FollowerMILP

    p = BilevelProblem(2, 6, x_bounds=[(0, 1)] * 2, y_bounds=[(0, 1), (0, 3), (0, 1), (0, 2), (0, 3), (0, 3)],
                       x_integer=True, y_integer=True)
    x, y = p.x, p.y
    d = [8, 9, 1, 18, 3, 13]
    p.set_upper(sum(y[j] for j in range(6)))
    p.set_lower(sum(d[j] * y[j] for j in range(6)), [
        2 * x[1] + 2 * y[1] <= 2, x[1] + y[2] <= 1, 2 * x[0] + y[3] <= 2, x[0] + y[4] <= 1,
        8 * y[1] + 2 * y[2] + 3 * y[3] + 7 * y[5] <= 31, y[0] + 9 * y[1] + 5 * y[2] + 8 * y[3] + y[4] + y[5] <= 32,
        5 * y[0] + 5 * y[1] + 5 * y[2] + 4 * y[3] + 5 * y[4] + 6 * y[5] <= 29], sense="max")
    kept = FollowerMILP(p)
    for point in ([0, 0], [1, 1], [0, 0], [0, 1], [1, 0], [1, 1], [0, 1]):
        point = np.array(point, float)
        assert kept.solve(point)[1] == pytest.approx(FollowerMILP(p).solve(point)[1], abs=1e-9), point


def test_continuous_leader_cut_point_that_only_just_beats_y():
    """Fuzz case continuous_x 44: the follower's optimum is tight at the relaxation's x*, and
    the tightened cut point beats y* by less than half the gap; it must still be used (it
    cuts y* off) instead of stopping. Truth: a grid over x with the follower enumerated —
    every grid point is attainable, so an optimal F (max) is at least the grid's best."""
    p = BilevelProblem(1, 2, x_bounds=[(-1, 2)], y_bounds=[(0, 3), (0, 2)], y_integer=True)
    x, y = p.x[0], p.y
    p.set_upper(0.2 * x - y[0] - 3 * y[1], [-x - y[1] <= 1], sense="max")
    p.set_lower(-4 * y[0] - 3 * y[1], [3 * x + 3 * y[0] - 3 * y[1] <= 5])
    ys = np.array(list(itertools.product(range(4), range(3))), float)
    best = -np.inf
    for g in np.linspace(-1, 2, 30001):
        ok = 3 * g + 3 * ys[:, 0] - 3 * ys[:, 1] <= 5 + 1e-12
        f = -4 * ys[:, 0] - 3 * ys[:, 1]
        opt = ok & (f <= f[ok].min() + 1e-12)
        F = np.where(opt & (-g - ys[:, 1] <= 1 + 1e-12), 0.2 * g - ys[:, 0] - 3 * ys[:, 1], -np.inf)
        best = max(best, F.max())
    r = bmp.solve(p, time_limit=60)
    assert r.status == "optimal", r.message
    assert r.F >= best - TOL


def test_mixed_follower_with_lp_noise_in_the_cut_point():
    """Fuzz case mixed 69: the cut point's continuous entry comes back as 0.4999999995, so
    a tight row's constant is 4 - 1e-9; it is snapped to 4 (step 1), else the cut does not
    bite. Truth: x and the integer y enumerated, the continuous y by linprog (twice, for
    the optimistic F)."""
    p = BilevelProblem(1, 3, x_bounds=[(0, 2)], y_bounds=[(0, 2), (0, 3), (0, 2)], x_integer=True,
                       y_integer=[True, True, False])
    x, y = p.x[0], p.y
    p.set_upper(-x + 2 * y[0] + y[1] + 3 * y[2], sense="max")
    rows = [((1, 1, 2, -1), 2), ((-2, 2, -2, -3), 6), ((2, 2, -2, -2), 3)]
    p.set_lower(-2 * y[1] + 2 * y[2], [a * x + b * y[0] + c * y[1] + d * y[2] <= r for (a, b, c, d), r in rows])
    best = -np.inf
    for xv in range(3):
        vals = []
        for y0, y1 in itertools.product(range(3), range(4)):
            A = np.array([[d] for (_, _, _, d), _ in rows])
            b = np.array([r - a * xv - bb * y0 - c * y1 for (a, bb, c, _), r in rows])
            lp = linprog([2.0], A_ub=A, b_ub=b, bounds=[(0, 2)])
            if lp.status == 0:
                vals.append((-2 * y1 + lp.fun, y0, y1, A, b))
        if not vals:
            continue
        phi = min(v[0] for v in vals)
        for v, y0, y1, A, b in vals:
            if v <= phi + 1e-9:
                lp = linprog([-3.0], A_ub=np.vstack([A, [[2.0]]]), b_ub=np.append(b, phi + 2 * y1 + 1e-9),
                             bounds=[(0, 2)])
                best = max(best, -xv + 2 * y0 + y1 - lp.fun)
    r = bmp.solve(p, time_limit=60)
    assert r.status == "optimal", r.message
    assert r.F == pytest.approx(best, abs=1e-6)
