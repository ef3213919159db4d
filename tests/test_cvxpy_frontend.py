"""CVXPY front end: leader and follower as two cvxpy.Problem objects sharing Variables."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

cp = pytest.importorskip("cvxpy")

import bilevel_mp  # noqa: E402
from bilevel_mp.errors import BilevelInputError, UnsupportedStructureError  # noqa: E402
from bilevel_mp.frontends.cvxpy import CvxpyBilevel, from_cvxpy  # noqa: E402

BOLIB = Path(__file__).resolve().parents[1] / "shared" / "bolib" / "problems.json"
if not BOLIB.exists():
    BOLIB = Path("/work/shared/bolib/problems.json")


def _bolib_best(name):
    if not BOLIB.exists():
        return None
    for e in json.loads(BOLIB.read_text()):
        if e["name"] == name:
            return e["F_best"]
    return None


# ---------------------------------------------------------------- (a) BilevelJuMP README
def test_bileveljump_readme_example():
    # in BilevelJuMP's README the follower's variable is x and the leader's is y
    x = cp.Variable(name="x")
    y = cp.Variable(name="y")
    leader = cp.Problem(cp.Minimize(3 * x + y), [x <= 5, y <= 8, y >= 0])
    follower = cp.Problem(cp.Minimize(-x), [x + y <= 8, 4 * x + y >= 8, 2 * x + y <= 13,
                                            2 * x - 7 * y <= 0])
    bp = from_cvxpy(leader, follower, lower_vars=[x])
    assert isinstance(bp, CvxpyBilevel)
    assert (bp.problem.n_x, bp.problem.n_y) == (1, 1)
    result = bilevel_mp.solve(bp)
    assert result.status == "optimal"
    assert result.certified
    assert result.F == pytest.approx(3 * (3.5 * 8 / 15) + 8 / 15, abs=1e-5)
    assert x.value == pytest.approx(3.5 * 8 / 15, abs=1e-5)
    assert y.value == pytest.approx(8 / 15, abs=1e-5)
    # the values written back reproduce the leader's objective
    assert leader.objective.value == pytest.approx(result.F, abs=1e-5)
    assert sorted(bp.dual_names()) == [0, 1, 2, 3]
    assert set(result.duals) >= {"follower[0]", "follower[1]", "follower[2]", "follower[3]"}


# ---------------------------------------------------------------- (b) BOLIB Bard1984a
def _bard1984a(vector=False):
    if not vector:
        x = cp.Variable(name="x")
        y = cp.Variable(name="y")
        leader = cp.Problem(cp.Minimize(x + y), [x >= 0])
        follower = cp.Problem(cp.Minimize(-5 * x - y), [
            x + y / 2 >= 2, x / 4 - y + 2 >= 0, 8 - y / 2 - x >= 0, 2 * y - x + 4 >= 0, y >= 0])
        return x, y, leader, follower
    # the same problem, vector constraint, both levels maximising the negated objectives
    x = cp.Variable(1, name="x")
    y = cp.Variable(1, name="y")
    A = np.array([[1, 0.5], [0.25, -1], [-1, -0.5], [-1, 2], [0, 1]])
    b = np.array([-2, 2, 8, 4, 0])
    leader = cp.Problem(cp.Maximize(-cp.sum(x + y)), [x >= 0])
    follower = cp.Problem(cp.Maximize(cp.sum(5 * x + y)), [A[:, :1] @ x + A[:, 1:] @ y + b >= 0])
    return x, y, leader, follower


def test_bard1984a_lp_lp():
    x, y, leader, follower = _bard1984a()
    result = bilevel_mp.solve(from_cvxpy(leader, follower, [y], name="Bard1984a"))
    best = _bolib_best("Bard1984a") or 3.11111111111111
    assert result.status == "optimal" and result.certified
    assert result.F == pytest.approx(best, abs=1e-4)
    assert result.F == pytest.approx(28 / 9, abs=1e-6)
    assert float(x.value) == pytest.approx(8 / 9, abs=1e-6)
    assert float(y.value) == pytest.approx(20 / 9, abs=1e-6)
    assert result.f == pytest.approx(-6.666666666, abs=1e-5)
    # follower duals: at x* = 8/9 both x + y/2 >= 2 and x/4 - y + 2 >= 0 are active, so
    # the multipliers are not unique; check the ones written back are a valid KKT vector
    # of the follower (min -y): -1 - sum_i lam_i * d g_i / dy = 0, lam >= 0
    lam = np.array([float(c.dual_value) for c in follower.constraints])
    dg_dy = np.array([0.5, -1.0, -0.5, 2.0, 1.0])
    assert np.all(lam >= -1e-9)
    assert -1 - lam @ dg_dy == pytest.approx(0.0, abs=1e-6)
    assert lam == pytest.approx([0, 1, 0, 0, 0], abs=1e-6)


def test_bard1984a_maximise_both_levels_vector_constraint():
    x, y, leader, follower = _bard1984a(vector=True)
    bp = from_cvxpy(leader, follower, [y])
    result = bilevel_mp.solve(bp)
    assert result.status == "optimal" and result.certified
    assert result.F == pytest.approx(-28 / 9, abs=1e-6)  # reported in the user's (max) sense
    assert result.f == pytest.approx(20 / 3, abs=1e-5)
    assert bp.dual_names()[0] == [f"follower[0][{j}]" for j in range(5)]
    dual = follower.constraints[0].dual_value
    assert dual.shape == (5,)
    assert dual == pytest.approx(np.array([0, 1, 0, 0, 0]), abs=1e-6)


# ---------------------------------------------------------------- (c) convex-QP follower
def test_qp_follower_projection_onto_line():
    """Follower projects the leader's x onto {y >= 0, y0 + y1 = 2}; leader
    min ||x - 3||^2 + (y0 - 2)^2 + y1^2. By hand: with s = x0 + x1, u = x0 - x1 the
    inner response is y = (1 + u/2, 1 - u/2) for |u| <= 2 and
    F = (s - 6)^2 / 2 + u^2 / 2 + 2 (1 - u/2)^2, minimised at s = 6, u = 1:
    x* = (3.5, 2.5), y* = (1.5, 0.5), F* = 1, f* = 8, and the equality's CVXPY dual
    is x0 + x1 - 2 = 4 (grad f + nu * (1, 1) = 0)."""
    x = cp.Variable(2, name="x")
    y = cp.Variable(2, name="y", nonneg=True)
    leader = cp.Problem(cp.Minimize(cp.sum_squares(x - 3) + cp.square(y[0] - 2) + cp.square(y[1])))
    follower = cp.Problem(cp.Minimize(cp.sum_squares(y - x)), [cp.sum(y) == 2])
    result = bilevel_mp.solve(from_cvxpy(leader, follower, [y]))
    assert result.status == "optimal" and result.certified
    assert result.structure == "QP-QP"
    assert result.F == pytest.approx(1.0, abs=1e-5)
    assert result.f == pytest.approx(8.0, abs=1e-3)
    assert x.value == pytest.approx([3.5, 2.5], abs=1e-3)
    assert y.value == pytest.approx([1.5, 0.5], abs=1e-3)
    assert follower.constraints[0].dual_value == pytest.approx(4.0, abs=1e-3)
    # brute force: no leader decision on a grid around x* does better
    for a in np.linspace(2.5, 4.5, 9):
        for b in np.linspace(1.5, 3.5, 9):
            yv = cp.Variable(2, nonneg=True)
            cp.Problem(cp.Minimize(cp.sum_squares(yv - np.array([a, b]))),
                       [cp.sum(yv) == 2]).solve(solver=cp.CLARABEL)
            F = (a - 3) ** 2 + (b - 3) ** 2 + (yv.value[0] - 2) ** 2 + yv.value[1] ** 2
            assert F >= result.F - 1e-5


def test_bilinear_toll_pricing_leader():
    """Leader sets a toll t >= 0 and earns t * flow; the follower routes one unit over
    the toll arc (cost t + 1) or an alternative (cost 4). Optimistic optimum t = 3,
    flow = 1, revenue 3. The leader's objective is bilinear (not DCP); the follower's
    t * flow term is read as an affine function of t."""
    t = cp.Variable(name="toll", nonneg=True)
    flow = cp.Variable(name="flow")
    leader = cp.Problem(cp.Maximize(t * flow), [t <= 10])
    follower = cp.Problem(cp.Minimize((t + 1) * flow + 4 * (1 - flow)), [flow >= 0, flow <= 1])
    result = bilevel_mp.solve(from_cvxpy(leader, follower, [flow]))
    assert result.status == "optimal" and result.certified
    assert result.F == pytest.approx(3.0, abs=1e-6)
    assert float(t.value) == pytest.approx(3.0, abs=1e-6)
    assert float(flow.value) == pytest.approx(1.0, abs=1e-6)


def test_piecewise_linear_follower_and_equality_duals():
    x = cp.Variable(name="x")
    y = cp.Variable(2, name="y", nonneg=True)
    leader = cp.Problem(cp.Minimize(-x + y[1]), [x <= 3])
    cons = [y[0] + y[1] == x, cp.abs(y[0] - 1) <= 5]
    bp = from_cvxpy(leader, cp.Problem(cp.Minimize(y[0] + 2 * y[1]), cons), [y])
    assert bp.problem.n_y > 2  # CVXPY's auxiliary variable for abs joins the follower
    result = bilevel_mp.solve(bp)
    assert result.status == "optimal" and result.certified
    assert result.F == pytest.approx(-3.0, abs=1e-6)
    assert y.value == pytest.approx([3.0, 0.0], abs=1e-6)
    # CVXPY's own duals of the follower at x = 3
    yf = cp.Variable(2, nonneg=True)
    ref = [yf[0] + yf[1] == 3, cp.abs(yf[0] - 1) <= 5]
    cp.Problem(cp.Minimize(yf[0] + 2 * yf[1]), ref).solve(solver=cp.CLARABEL)
    for c, r in zip(cons, ref):
        assert c.dual_value == pytest.approx(float(r.dual_value), abs=1e-5)
    assert cons[0].dual_value == pytest.approx(-1.0, abs=1e-6)


# ---------------------------------------------------------------- (d) integer leader
def test_integer_leader_moore_bard():
    """Moore & Bard (1990) with a continuous follower: min_x -x - 10y, x integer >= 0,
    y in argmin { y : -25x + 20y <= 30, x + 2y <= 10, 2x - y <= 15, 2x + 10y >= 15 }.
    Enumerating x (the follower is an LP in y, solved by CVXPY) gives x = 8, y = 1, F = -18."""
    x = cp.Variable(integer=True, name="x")
    y = cp.Variable(name="y")
    leader = cp.Problem(cp.Minimize(-x - 10 * y), [x >= 0])

    def cons(xv, yv):
        return [-25 * xv + 20 * yv <= 30, xv + 2 * yv <= 10, 2 * xv - yv <= 15,
                2 * xv + 10 * yv >= 15, yv >= 0]

    follower = cp.Problem(cp.Minimize(y), cons(x, y))
    bp = from_cvxpy(leader, follower, [y])
    assert bp.problem.x_is_integer() == [True]
    result = bilevel_mp.solve(bp)
    assert result.status == "optimal" and result.certified
    assert result.structure.startswith("MI")

    best = None
    for xi in range(0, 16):
        yv = cp.Variable()
        pr = cp.Problem(cp.Minimize(yv), cons(xi, yv))
        pr.solve(solver=cp.CLARABEL)
        if pr.status == "optimal":
            F = -xi - 10 * float(yv.value)
            best = F if best is None else min(best, F)
    assert result.F == pytest.approx(best, abs=1e-5)
    assert result.F == pytest.approx(-18.0, abs=1e-6)
    assert float(x.value) == 8.0 and float(y.value) == pytest.approx(1.0, abs=1e-6)


def test_boolean_leader_becomes_bounded_integer():
    z = cp.Variable(2, boolean=True, name="z")
    y = cp.Variable(name="y")
    leader = cp.Problem(cp.Maximize(y - 0.5 * cp.sum(z)))
    follower = cp.Problem(cp.Minimize(-y), [y <= 2 * z[0] + 3 * z[1], y <= 4])
    bp = from_cvxpy(leader, follower, [y])
    p = bp.problem
    assert p.x_is_integer() == [True, True]
    assert [(v.lb, v.ub) for v in p.x.values()] == [(0, 1), (0, 1)]
    result = bilevel_mp.solve(bp)
    assert result.status == "optimal" and result.certified
    # z = (1, 1): y = 4, F = 3; z = (0, 1): y = 3, F = 2.5
    assert result.F == pytest.approx(3.0, abs=1e-6)
    assert z.value == pytest.approx([1.0, 1.0])


# ---------------------------------------------------------------- (e) bad inputs
def _simple():
    x = cp.Variable(name="x")
    y = cp.Variable(2, name="y")
    leader = cp.Problem(cp.Minimize(x + cp.sum(y)), [x >= 0])
    return x, y, leader


def test_other_cones_in_follower_refused():
    x, y, leader = _simple()
    # second-order cones are read (tests/test_cones.py); exponential and PSD cones are not
    with pytest.raises(UnsupportedStructureError, match="follower's objective or atoms.*ExpCone"):
        from_cvxpy(leader, cp.Problem(cp.Minimize(cp.sum(cp.exp(y))), [y >= x]), [y])
    with pytest.raises(UnsupportedStructureError, match="follower constraint 0"):
        from_cvxpy(leader, cp.Problem(cp.Minimize(cp.sum(y)), [cp.diag(y) >> 0]), [y])
    with pytest.raises(UnsupportedStructureError, match="follower.s objective or atoms.*ExpCone"):
        from_cvxpy(leader, cp.Problem(cp.Minimize(cp.sum(y)), [cp.sum(cp.exp(y)) <= x]), [y])


def test_nonconvex_follower_refused():
    x, y, leader = _simple()
    follower = cp.Problem(cp.Minimize(-cp.sum_squares(y)), [y >= x, y <= 1])
    with pytest.raises(UnsupportedStructureError, match="follower objective .*not DCP"):
        from_cvxpy(leader, follower, [y])
    follower = cp.Problem(cp.Minimize(cp.sum(y)), [cp.abs(y) >= 1])
    with pytest.raises(UnsupportedStructureError, match="follower constraint 0 .*not DCP"):
        from_cvxpy(leader, follower, [y])


def test_follower_not_dpp_in_leader_variables_refused():
    x, y, leader = _simple()
    follower = cp.Problem(cp.Minimize(cp.sum(y)), [y >= x * x])
    with pytest.raises(UnsupportedStructureError, match="not DPP"):
        from_cvxpy(leader, follower, [y])


def test_lower_vars_empty_or_mismatched():
    x, y, leader = _simple()
    follower = cp.Problem(cp.Minimize(cp.sum(y)), [y >= x])
    with pytest.raises(BilevelInputError, match="lower_vars is empty"):
        from_cvxpy(leader, follower, [])
    with pytest.raises(BilevelInputError, match="do not appear in the follower"):
        from_cvxpy(leader, follower, [cp.Variable(name="stranger")])
    with pytest.raises(BilevelInputError, match="not a cvxpy Variable"):
        from_cvxpy(leader, follower, [y[0]])
    with pytest.raises(BilevelInputError, match="must be a cvxpy.Problem"):
        from_cvxpy(leader, "follower", [y])


def test_integer_follower_and_unset_parameter_refused():
    x, y, leader = _simple()
    k = cp.Variable(integer=True, name="k")
    follower = cp.Problem(cp.Minimize(cp.sum(y) + k), [y >= x, k >= 0])
    # an integer follower is no longer refused by the front end (the methods decide)
    prob = from_cvxpy(leader, follower, [y, k]).problem
    assert [prob.y[j].is_continuous() for j in range(prob.n_y)] == [True, True, False]
    p = cp.Parameter(name="price")
    follower = cp.Problem(cp.Minimize(p * cp.sum(y)), [y >= x])
    with pytest.raises(BilevelInputError, match="Parameter price with no value"):
        from_cvxpy(leader, follower, [y])
    p.value = 2.0  # with a value it is a constant
    assert from_cvxpy(leader, follower, [y]).problem.n_y == 2


def test_variable_only_in_follower_warns():
    x, y, leader = _simple()
    w = cp.Variable(name="w")
    follower = cp.Problem(cp.Minimize(cp.sum(y)), [y >= w])
    with pytest.warns(UserWarning, match="w appears only in the follower"):
        bp = from_cvxpy(leader, follower, [y])
    assert "w" in bp.problem.x_names


def test_solve_dispatch_and_method_keyword():
    x, y, leader, follower = _bard1984a()
    bp = from_cvxpy(leader, follower, [y])
    result = bilevel_mp.solve(bp, method="strong_duality")
    assert result.certified and result.F == pytest.approx(28 / 9, abs=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bilevel_mp.solve(bp).F == pytest.approx(28 / 9, abs=1e-6)


# ---------------------------------------------------------------- (f) the result in the user's terms
def test_result_holds_only_the_users_variables():
    """The projection QP of test (c): 2 + 2 user entries, but CVXPY's canonical form adds
    epigraph variables at both levels (4 for the leader, 2 for the follower). The result
    the user gets has x*, y* and values per Variable only; the rest is in internal."""
    x = cp.Variable(2, name="x")
    y = cp.Variable(2, name="y", nonneg=True)
    leader = cp.Problem(cp.Minimize(cp.sum_squares(x - 3) + cp.square(y[0] - 2) + cp.square(y[1])))
    follower = cp.Problem(cp.Minimize(cp.sum_squares(y - x)), [cp.sum(y) == 2])
    bp = from_cvxpy(leader, follower, [y])
    p = bp.problem
    assert p.n_x > 2 and p.n_y > 2  # CVXPY's auxiliary variables are in the problem ...
    r = bilevel_mp.solve(bp)
    assert r.status == "optimal" and r.certified
    # ... but not in the result
    assert r.x.shape == (2,) and r.y.shape == (2,)
    assert r.x == pytest.approx([3.5, 2.5], abs=1e-3) and r.y == pytest.approx([1.5, 0.5], abs=1e-3)
    assert set(r.values) == {"x", "y"}
    assert r.values["x"] == pytest.approx([3.5, 2.5], abs=1e-3)
    assert r.values["y"] == pytest.approx([1.5, 0.5], abs=1e-3)
    d = r.to_dict()
    assert len(d["x"]) == 2 and len(d["y"]) == 2 and d["values"]["y"] == pytest.approx([1.5, 0.5], abs=1e-3)
    assert not any(k.startswith("follower.aux") for k in r.duals)
    assert r.duals["follower[0]"] == pytest.approx(-4.0, abs=1e-3)
    assert r.certificate.y_best is None or len(r.certificate.y_best) == 2
    # the full point of the converted problem is kept, and is what was certified
    full_x, full_y = r.internal["x"], r.internal["y"]
    assert (full_x.size, full_y.size) == (p.n_x, p.n_y)
    assert np.array_equal(full_x[:2], r.x) and np.array_equal(full_y[:2], r.y)
    from bilevel_mp.core.certify import certify

    assert certify(p, full_x, full_y).certified
    assert p.evaluate(full_x, full_y)["F"] == pytest.approx(r.F, abs=1e-9)
    # write_back again with the user's entries changes nothing; a wrong length is refused
    before = (r.x.copy(), r.y.copy(), dict(r.duals))
    bp.write_back(r)
    assert np.array_equal(r.x, before[0]) and np.array_equal(r.y, before[1]) and r.duals == before[2]
    assert r.internal["x"].size == p.n_x
    r.x = np.zeros(3)
    with pytest.raises(BilevelInputError, match="result.x has 3 entries"):
        bp.write_back(r)


def test_scalar_and_vector_variables_map_back_by_name():
    """Three user variables (x, y[0], y[1]) and abs() in the follower (an auxiliary
    follower variable): the result has 1 + 2 entries, values keyed by Variable name."""
    x = cp.Variable(name="x")
    y = cp.Variable(2, name="y", nonneg=True)
    leader = cp.Problem(cp.Minimize(-x + y[1]), [x <= 3])
    follower = cp.Problem(cp.Minimize(y[0] + 2 * y[1]), [y[0] + y[1] == x, cp.abs(y[0] - 1) <= 5])
    bp = from_cvxpy(leader, follower, [y])
    assert bp.problem.n_x + bp.problem.n_y > 3
    r = bilevel_mp.solve(bp)
    assert r.status == "optimal" and r.F == pytest.approx(-3.0, abs=1e-6)
    assert list(r.x) == pytest.approx([3.0]) and list(r.y) == pytest.approx([3.0, 0.0], abs=1e-6)
    assert r.values["x"] == pytest.approx(3.0) and isinstance(r.values["x"], float)
    assert r.values["y"] == pytest.approx([3.0, 0.0], abs=1e-6)
    assert set(r.values) == {"x", "y"} and len(r.to_dict()["x"]) == 1
