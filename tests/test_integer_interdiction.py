"""Integer bilevel problems: the brute-force enumerator, the knapsack- and assignment-
interdiction builders, and ``bilevel_mp.solve`` against enumeration.

Every optimum here comes from a computation written in this file (a hand solution, a
knapsack dynamic program, scipy's ``linear_sum_assignment``), never from the solver."""

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import bilevel_mp as bmp
import bilevel_mp.library.enumeration as enumeration
from bilevel_mp import BilevelInputError, BilevelProblem
from bilevel_mp.library import (
    AssignmentInterdictionData,
    EnumerationResult,
    KnapsackInterdictionData,
    assignment_interdiction,
    knapsack_interdiction,
    solve_by_enumeration,
)
from bilevel_mp.library.enumeration import INFEASIBLE


# ---------------------------------------------------------------------------- second truths
def knapsack_dp(profits, weights, capacity, available) -> int:
    """Max profit of a 0/1 knapsack over the available items (integer weights)."""
    best = [0] * (int(capacity) + 1)
    for p, w, ok in zip(profits, weights, available):
        if not ok:
            continue
        p, w = int(p), int(w)
        for cap in range(int(capacity), w - 1, -1):
            best[cap] = max(best[cap], best[cap - w] + p)
    return best[int(capacity)]


def knapsack_interdiction_by_dp(data: KnapsackInterdictionData) -> int:
    """min over affordable interdictions of the follower's DP optimum."""
    n = len(data.profits)
    values = []
    for x in itertools.product((0, 1), repeat=n):
        if sum(c * xi for c, xi in zip(data.interdiction_costs, x)) <= data.budget:
            values.append(knapsack_dp(data.profits, data.weights, data.capacity,
                                      [xi == 0 for xi in x]))
    return min(values)


def assignment_value(data: AssignmentInterdictionData, x) -> float:
    """The follower's optimal assignment cost with the arcs of x removed."""
    n = data.n
    big = 1e6
    cost = np.array(data.costs, dtype=float) + big * np.asarray(x, dtype=float).reshape(n, n)
    rows, cols = linear_sum_assignment(cost)
    value = cost[rows, cols].sum()
    assert value < big, "the builder promised a perfect matching on the arcs left"
    return float(value)


def assignment_interdiction_by_lsa(data: AssignmentInterdictionData) -> float:
    """max over affordable interdictions of the follower's optimal assignment cost."""
    n = data.n
    c = np.array(data.interdiction_costs, dtype=float).ravel()
    return max(assignment_value(data, x) for x in itertools.product((0, 1), repeat=n * n)
               if c @ np.array(x) <= data.budget)


# ---------------------------------------------------------------------------- enumerator
def moore_bard_integer() -> BilevelProblem:
    """Moore & Bard (1990), Example 1, both levels integer (tests/data/mps_aux/
    moore_bard_int.mps). The boxes x in [0, 10], y in [0, 5] hold every point of the
    follower's region (x + 2y <= 10, y >= 0), so they do not cut the problem."""
    p = BilevelProblem(1, 1, name="MooreBardInt", x_bounds=[(0, 10)], y_bounds=[(0, 5)],
                       x_integer=True, y_integer=True)
    x, y = p.x[0], p.y[0]
    p.set_upper(-x - 10 * y)
    p.set_lower(y, [-25 * x + 20 * y <= 30, x + 2 * y <= 10, 2 * x - y <= 15, 2 * x + 10 * y >= 15])
    return p


def ties_and_coupling() -> BilevelProblem:
    """Solved by hand. x in {0, 1}, y in {0, 1, 2}^2;
    follower: min y1 + y2 s.t. y1 + y2 >= 1 + x, so S(x) = {y : y1 + y2 = 1 + x};
    leader: min -4x - 3 y1 + y2 s.t. y1 <= 1 (a coupling row G).
      x = 0: S = {(0,1), (1,0)}: F = 1, -3; best (1,0), F = -3.
      x = 1: S = {(0,2), (1,1), (2,0)}: F = -2, -6, -10; (2,0) breaks y1 <= 1, so the
             optimistic leader takes (1,1), F = -6.
    F* = -6 at x = 1, y = (1, 1)."""
    p = BilevelProblem(1, 2, name="TiesAndCoupling", x_bounds=[(0, 1)], y_bounds=[(0, 2)] * 2,
                       x_integer=True, y_integer=True)
    x, y = p.x[0], p.y
    p.set_upper(-4 * x - 3 * y[0] + y[1], [y[0] <= 1])
    p.set_lower(y[0] + y[1], [y[0] + y[1] >= 1 + x])
    return p


def nonlinear_case() -> BilevelProblem:
    """Solved by hand. x in {0..3}, y in {0..2}; follower min (y - x)^2 gives y = min(x, 2);
    leader max 2y - (x - 3)^2: x = 0..3 give -9, -2, 3, 4: F* = 4 at x = 3, y = 2."""
    p = BilevelProblem(1, 1, name="NonlinearCase", x_bounds=[(0, 3)], y_bounds=[(0, 2)],
                       x_integer=True, y_integer=True)
    x, y = p.x[0], p.y[0]
    p.set_upper(2 * y - (x - 3) ** 2, sense="max")
    p.set_lower((y - x) ** 2)
    return p


class TestEnumerator:
    @pytest.mark.parametrize("use_linear_data", [True, False])
    def test_moore_bard_integer(self, use_linear_data):
        # by hand: the follower takes y = ceil((15 - 2x) / 10) when x + 2y <= 10 and
        # 20y <= 30 + 25x allow it: x = 0 none, x = 1, 2: y = 2 (F = -21, -22),
        # x = 3..8: y = 1 (F = -13..-18), x >= 9 none. F* = -22 at (2, 2).
        r = solve_by_enumeration(moore_bard_integer(), use_linear_data=use_linear_data)
        assert isinstance(r, EnumerationResult)
        assert r.F_star == -22 and list(r.x) == [2] and list(r.y) == [2] and r.f == 2
        assert r.points_visited == 11 * 6

    @pytest.mark.parametrize("use_linear_data", [True, False])
    def test_ties_and_coupling_rows(self, use_linear_data):
        r = solve_by_enumeration(ties_and_coupling(), use_linear_data=use_linear_data)
        assert r.F_star == -6 and list(r.x) == [1] and list(r.y) == [1, 1] and r.f == 2

    def test_nonlinear_problem_in_the_user_sense(self):
        r = solve_by_enumeration(nonlinear_case())
        assert r.F_star == 4 and list(r.x) == [3] and list(r.y) == [2] and r.f == 1

    def test_follower_maximising(self):
        # max_y y over y in {0..3} with y <= x: y = x; leader min (x - 2)^2 + y: x = 0 -> 4,
        # x = 1 -> 2, x = 2 -> 2, x = 3 -> 4: first of the tie, x = 1
        p = BilevelProblem(1, 1, x_bounds=[(0, 3)], y_bounds=[(0, 3)], x_integer=True, y_integer=True)
        x, y = p.x[0], p.y[0]
        p.set_upper((x - 2) ** 2 + y)
        p.set_lower(y, [y <= x], sense="max")
        r = solve_by_enumeration(p)
        assert (r.F_star, list(r.x), list(r.y), r.f) == (2, [1], [1], 1)

    def test_infeasible(self):
        # the follower maximises y in {0, 1} (y = 1 always) but the leader needs x + y <= 0
        p = BilevelProblem(1, 1, x_bounds=[(0, 1)], y_bounds=[(0, 1)], x_integer=True, y_integer=True)
        x, y = p.x[0], p.y[0]
        p.set_upper(x + y, [x + y <= 0])
        p.set_lower(-y)
        assert solve_by_enumeration(p) == INFEASIBLE == "infeasible"

    def test_follower_rows_on_x_alone_restrict_the_leader(self):
        # g: x >= 2 holds only for x = 2; without it x = 0 would give F = 0
        p = BilevelProblem(1, 1, x_bounds=[(0, 2)], y_bounds=[(0, 1)], x_integer=True, y_integer=True)
        x, y = p.x[0], p.y[0]
        p.set_upper(x + y)
        p.set_lower(y, [x >= 2])
        r = solve_by_enumeration(p)
        assert (r.F_star, list(r.x), list(r.y)) == (2, [2], [0])
        assert r.points_visited == 2  # one leader point passes, times two follower points

    def test_equality_rows(self):
        # follower: y1 + y2 == x, min y1 - y2; leader min x - 3 y2 with x in {1, 2}
        # x = 1: y = (0, 1), F = -2; x = 2: y = (0, 2), F = -4
        p = BilevelProblem(1, 2, x_bounds=[(1, 2)], y_bounds=[(0, 2)] * 2, x_integer=True,
                           y_integer=True)
        x, y = p.x[0], p.y
        p.set_upper(x - 3 * y[1])
        p.set_lower(y[0] - y[1], [y[0] + y[1] == x])
        for use_linear_data in (True, False):
            r = solve_by_enumeration(p, use_linear_data=use_linear_data)
            assert (r.F_star, list(r.x), list(r.y)) == (-4, [2], [0, 2])

    def test_refuses_continuous_unbounded_and_large(self):
        p = BilevelProblem(1, 1, x_bounds=[(0, 1)], y_bounds=[(0, 1)], x_integer=True)
        p.set_upper(p.x[0] + p.y[0])
        p.set_lower(p.y[0])
        with pytest.raises(BilevelInputError, match="continuous"):
            solve_by_enumeration(p)
        p = BilevelProblem(1, 1, x_bounds=[(0, None)], y_bounds=[(0, 1)], x_integer=True,
                           y_integer=True)
        p.set_upper(p.x[0] + p.y[0])
        p.set_lower(p.y[0])
        with pytest.raises(BilevelInputError, match="finite bounds"):
            solve_by_enumeration(p)
        with pytest.raises(BilevelInputError, match="max_points"):
            solve_by_enumeration(knapsack_interdiction(8), max_points=2 ** 15)

    def test_linear_and_pointwise_paths_agree(self):
        for seed in range(3):
            p = knapsack_interdiction(4, seed=seed)
            fast, slow = solve_by_enumeration(p), solve_by_enumeration(p, use_linear_data=False)
            assert (fast.F_star, list(fast.x), list(fast.y)) == (slow.F_star, list(slow.x), list(slow.y))

    @pytest.mark.parametrize("seed", range(5))
    def test_linear_and_pointwise_paths_agree_on_random_problems(self, seed):
        # general integer boxes, a coupling row in G, a follower row in x alone
        rng = np.random.default_rng(seed)
        p = BilevelProblem(2, 2, x_bounds=[(-1, 2), (0, 3)], y_bounds=[(0, 2), (-2, 1)],
                           x_integer=True, y_integer=True)
        x, y = p.x, p.y

        def lin():
            a = rng.integers(-3, 4, size=4)
            return a[0] * x[0] + a[1] * x[1] + a[2] * y[0] + a[3] * y[1]

        p.set_upper(lin(), [lin() <= 3])
        p.set_lower(lin(), [lin() <= 4, lin() >= -4, x[0] + x[1] <= 4])
        fast, slow = solve_by_enumeration(p), solve_by_enumeration(p, use_linear_data=False)
        if fast == INFEASIBLE:
            assert slow == INFEASIBLE
        else:
            assert (fast.F_star, list(fast.x), list(fast.y), fast.points_visited) == \
                (slow.F_star, list(slow.x), list(slow.y), slow.points_visited)

    def test_follower_box_in_several_blocks(self, monkeypatch):
        p = knapsack_interdiction(6, seed=5)
        whole = solve_by_enumeration(p)
        monkeypatch.setattr(enumeration, "_Y_BLOCK", 7)  # 64 follower points in 10 blocks
        blocks = solve_by_enumeration(p)
        assert (blocks.F_star, list(blocks.x), list(blocks.y)) == (whole.F_star, list(whole.x), list(whole.y))

    def test_2_to_the_10_by_2_to_the_10(self):
        p = knapsack_interdiction(10, seed=3)
        r = solve_by_enumeration(p)
        assert r.points_visited <= 2 ** 20
        assert r.F_star == knapsack_interdiction_by_dp(p.meta["knapsack_interdiction"])


# ---------------------------------------------------------------------------- knapsack
class TestKnapsackInterdiction:
    def test_sizes_and_domains(self):
        p = knapsack_interdiction(7, seed=2)
        assert (p.n_x, p.n_y) == (7, 7)
        assert (p.upper_sense, p.lower_sense) == ("min", "max")
        assert all(p.x_is_integer()) and not any(v.is_continuous() for v in p.y)
        assert all((v.lb, v.ub) == (0, 1) for v in list(p.x) + list(p.y))
        assert len(p.G) == 1 and len(p.g) == 1 + 7  # budget; capacity + y_i <= 1 - x_i
        assert bmp.detect(p).label == "MILP-MILP"

    @pytest.mark.parametrize("seed", range(4))
    def test_random_data(self, seed):
        d = knapsack_interdiction(9, seed=seed, budget_fraction=0.3, capacity_fraction=0.6).meta[
            "knapsack_interdiction"]
        for values in (d.profits, d.weights, d.interdiction_costs):
            assert len(values) == 9 and all(1 <= v <= 100 and v == int(v) for v in values)
        assert d.capacity == math.ceil(0.6 * sum(d.weights))
        assert d.budget == math.ceil(0.3 * sum(d.interdiction_costs))

    def test_seed_reproducible(self):
        a = knapsack_interdiction(5, seed=11).meta["knapsack_interdiction"]
        b = knapsack_interdiction(5, seed=11).meta["knapsack_interdiction"]
        assert a == b != knapsack_interdiction(5, seed=12).meta["knapsack_interdiction"]

    def test_hand_instance(self):
        # Caprara et al. (2016), Example 1: profits (4, 3, 3), follower weights (4, 3, 2),
        # capacity 4; interdiction costs (2, 1, 1), budget 2. The follower packs one item
        # (any two weigh > 4): best 4 unless item 0 is removed, then 3. Removing item 0
        # costs 2 <= 2, so F* = 3 at x = (1, 0, 0).
        p = knapsack_interdiction(profits=[4, 3, 3], weights=[4, 3, 2], capacity=4,
                                  interdiction_costs=[2, 1, 1], budget=2)
        r = solve_by_enumeration(p)
        assert (r.F_star, list(r.x)) == (3, [1, 0, 0]) and r.f == 3
        assert r.F_star == knapsack_interdiction_by_dp(p.meta["knapsack_interdiction"])

    @pytest.mark.parametrize("n,seed", [(5, 0), (6, 1), (7, 2), (8, 3)])
    def test_enumeration_matches_dynamic_program(self, n, seed):
        p = knapsack_interdiction(n, seed=seed)
        d = p.meta["knapsack_interdiction"]
        r = solve_by_enumeration(p)
        assert r.F_star == knapsack_interdiction_by_dp(d)
        # the point itself: affordable x, a follower-optimal packing of the items left
        assert np.dot(d.interdiction_costs, r.x) <= d.budget
        assert np.dot(d.weights, r.y) <= d.capacity and np.all(r.y <= 1 - r.x)
        assert np.dot(d.profits, r.y) == knapsack_dp(d.profits, d.weights, d.capacity, r.x == 0)

    def test_bad_input(self):
        with pytest.raises(BilevelInputError, match="disagree"):
            knapsack_interdiction(3, profits=[1, 2])
        with pytest.raises(BilevelInputError, match="n_items"):
            knapsack_interdiction()
        with pytest.raises(BilevelInputError, match="budget_fraction"):
            knapsack_interdiction(3, budget_fraction=1.5)
        with pytest.raises(BilevelInputError, match=">= 0"):
            knapsack_interdiction(profits=[1, -2], weights=[1, 1], interdiction_costs=[1, 1])


# ---------------------------------------------------------------------------- assignment
class TestAssignmentInterdiction:
    def test_sizes_and_domains(self):
        p = assignment_interdiction(3, seed=0)
        assert (p.n_x, p.n_y) == (9, 9)
        assert (p.upper_sense, p.lower_sense) == ("max", "min")
        assert all(p.x_is_integer()) and not any(v.is_continuous() for v in p.y)
        assert len(p.G) == 1 and len(p.g) == 3 + 3 + 9
        assert sum(c.kind == "eq" for c in p.g) == 6
        assert p.y_names[1 * 3 + 2] == "assign(1,2)"

    @pytest.mark.parametrize("seed", range(4))
    def test_random_data_keeps_a_perfect_matching(self, seed):
        d = assignment_interdiction(4, seed=seed).meta["assignment_interdiction"]
        flat = sorted(v for row in d.interdiction_costs for v in row)
        assert all(1 <= v <= 19 and v == int(v) for row in d.costs for v in row) and len(flat) == 16
        # the default budget: the largest integer below the cost of the 4 cheapest arcs,
        # so no affordable interdiction removes 4 arcs
        assert d.budget == sum(flat[:4]) - 1 == d.safe_budget_limit() - 1

    def test_explicit_budget_rule(self):
        costs = [[1, 2], [3, 4]]
        ic = [[1, 1], [5, 5]]  # two cheapest: 1 + 1 = 2, so budget must be < 2
        p = assignment_interdiction(2, costs=costs, interdiction_costs=ic, budget=1)
        assert p.meta["assignment_interdiction"].budget == 1
        with pytest.raises(BilevelInputError, match="perfect matching"):
            assignment_interdiction(2, costs=costs, interdiction_costs=ic, budget=2)
        with pytest.raises(BilevelInputError, match="2 x 2"):
            assignment_interdiction(2, costs=[[1, 2, 3]])

    def test_hand_instance(self):
        # costs [[1, 5], [5, 2]]: the diagonal assignment costs 3, the anti-diagonal 10.
        # Diagonal arcs cost 1 to interdict, the others 9; budget 1 (< 1 + 1). Removing
        # one diagonal arc forces the anti-diagonal: F* = 10.
        p = assignment_interdiction(2, costs=[[1, 5], [5, 2]], interdiction_costs=[[1, 9], [9, 1]],
                                    budget=1)
        r = solve_by_enumeration(p)
        assert r.F_star == 10 and r.y.tolist() == [0, 1, 1, 0]
        assert r.x[0] + r.x[3] == 1 and r.x[1] == r.x[2] == 0

    @pytest.mark.parametrize("n,seed", [(2, 0), (2, 1), (3, 0), (3, 1), (3, 2)])
    def test_enumeration_matches_linear_sum_assignment(self, n, seed):
        p = assignment_interdiction(n, seed=seed)
        d = p.meta["assignment_interdiction"]
        r = solve_by_enumeration(p)
        assert r.F_star == pytest.approx(assignment_interdiction_by_lsa(d), abs=1e-9)
        assert np.dot(np.ravel(d.interdiction_costs), r.x) <= d.budget
        Y = r.y.reshape(n, n)
        assert (Y.sum(axis=0) == 1).all() and (Y.sum(axis=1) == 1).all() and np.all(r.y <= 1 - r.x)
        assert np.sum(np.array(d.costs) * Y) == pytest.approx(assignment_value(d, r.x))


# ---------------------------------------------------------------------------- the solver
class TestSolveAgainstEnumeration:
    """``bilevel_mp.solve`` (method "auto") proves the enumeration's optimum."""

    @staticmethod
    def _check(p):
        truth = solve_by_enumeration(p)
        r = bmp.solve(p, time_limit=30)
        assert r.status == "optimal", r
        assert r.F == pytest.approx(truth.F_star, abs=1e-6)
        # the returned point is bilevel feasible with the same value
        values = p.evaluate(r.x, r.y)
        assert values["F"] == pytest.approx(truth.F_star, abs=1e-6)
        assert max(values["G_violation"], values["g_violation"], values["x_bound_violation"],
                   values["y_bound_violation"]) <= 1e-6

    @pytest.mark.parametrize("n,seed", [(6, 0), (7, 1), (8, 2)])
    def test_knapsack_interdiction(self, n, seed):
        self._check(knapsack_interdiction(n, seed=seed))

    @pytest.mark.parametrize("seed", [0, 1, 2])
    def test_assignment_interdiction(self, seed):
        self._check(assignment_interdiction(3, seed=seed))
