"""Integer and binary follower variables through the Pyomo and CVXPY front ends.

Moore & Bard (1990), Operations Research 38(5), Example 1, both levels integer
(tests/data/mps_aux/moore_bard_int.mps/.aux, optimum in tests/data/mps_aux/optima.json):

    min_{x,y} -x - 10 y       x >= 0 integer
    y in argmin_y { y : -25x + 20y <= 30, x + 2y <= 10, 2x - y <= 15, 2x + 10y >= 15,
                        y >= 0 integer }

At x = 2 the follower needs 10y >= 11 and 20y <= 80, so y = 2 and F = -22 (the optimum).

A binary follower (constructed here; optimum by enumerating x in {0, 1, 2}):

    min_x  x + 3 y1 - 4 y2     x in {0, 1, 2, 3}
    y in argmax_y { 2 y1 + 3 y2 : 2 y1 + 2 y2 <= 4 - x, y binary }

The follower's answer is unique at each x: x = 0 -> (1, 1), x = 1, 2 -> (0, 1),
x = 3 -> (0, 0); F = -1, -3, -2, 3, so x = 1, y = (0, 1), F* = -3. (With y relaxed
to [0, 1]^2 the follower answers (1/2, 1) at x = 1 and (0, 1/2) at x = 3, and the
leader would pick x = 2, F = -2: the case tells integer from continuous y.)

The classes other than ``TestSolveIntegerFollower`` check what the front ends build;
``TestSolveIntegerFollower`` solves through ``bilevel_mp.solve`` (method "auto") and
needs a method for integer followers.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp.errors import BilevelInputError, UnsupportedStructureError
from bilevel_mp.frontends.pyomo import LowerLevel, from_pyomo

DATA = Path(__file__).resolve().parent / "data" / "mps_aux"


def _optimum(mps_name):
    for e in json.loads((DATA / "optima.json").read_text()):
        if e["mps"] == mps_name:
            return e
    raise KeyError(mps_name)


MB = _optimum("moore_bard_int.mps")


def _cp():
    return pytest.importorskip("cvxpy")


# ------------------------------------------------------------------ models
def moore_bard_pyomo():
    m = pyo.ConcreteModel("moore_bard_int")
    m.x = pyo.Var(within=pyo.NonNegativeIntegers)
    m.L = LowerLevel()
    m.L.y = pyo.Var(within=pyo.NonNegativeIntegers)
    m.obj = pyo.Objective(expr=-m.x - 10 * m.L.y)
    m.L.obj = pyo.Objective(expr=m.L.y)
    m.L.c2 = pyo.Constraint(expr=-25 * m.x + 20 * m.L.y <= 30)
    m.L.c3 = pyo.Constraint(expr=m.x + 2 * m.L.y <= 10)
    m.L.c4 = pyo.Constraint(expr=2 * m.x - m.L.y <= 15)
    m.L.c5 = pyo.Constraint(expr=2 * m.x + 10 * m.L.y >= 15)
    return m


def moore_bard_cvxpy():
    cp = _cp()
    x = cp.Variable(integer=True, nonneg=True, name="x")
    y = cp.Variable(integer=True, nonneg=True, name="y")
    leader = cp.Problem(cp.Minimize(-x - 10 * y))
    follower = cp.Problem(cp.Minimize(y), [-25 * x + 20 * y <= 30, x + 2 * y <= 10,
                                           2 * x - y <= 15, 2 * x + 10 * y >= 15])
    return x, y, leader, follower


def binary_pyomo():
    m = pyo.ConcreteModel("binary_follower")
    m.x = pyo.Var(within=pyo.Integers, bounds=(0, 3))
    m.L = LowerLevel()
    m.L.y1 = pyo.Var(within=pyo.Binary)
    m.L.y2 = pyo.Var(within=pyo.Boolean)
    m.obj = pyo.Objective(expr=m.x + 3 * m.L.y1 - 4 * m.L.y2)
    m.L.obj = pyo.Objective(expr=2 * m.L.y1 + 3 * m.L.y2, sense=pyo.maximize)
    m.L.c = pyo.Constraint(expr=2 * m.L.y1 + 2 * m.L.y2 <= 4 - m.x)
    return m


def binary_cvxpy():
    cp = _cp()
    x = cp.Variable(integer=True, bounds=[0, 3], name="x")
    y = cp.Variable(2, boolean=True, name="y")
    leader = cp.Problem(cp.Minimize(x + 3 * y[0] - 4 * y[1]))
    follower = cp.Problem(cp.Maximize(2 * y[0] + 3 * y[1]), [2 * cp.sum(y) <= 4 - x])
    return x, y, leader, follower


def _integer_flags(vars_):
    return [not v.is_continuous() for v in vars_]


def _bounds(vars_):
    return [(v.lb, v.ub) for v in vars_]


# Moore & Bard at hand-computed points: (x, y) -> F, f, worst follower-row violation
# (rows: 30 - (-25x + 20y), 10 - x - 2y, 15 - 2x + y, 2x + 10y - 15, each >= 0)
MB_POINTS = [
    ((2, 2), -22.0, 2.0, 0.0),
    ((8, 1), -18.0, 1.0, 0.0),   # the continuous follower's optimum, feasible here too
    ((1, 2), -21.0, 2.0, 0.0),
    ((0, 4), -40.0, 4.0, 50.0),  # -25*0 + 20*4 = 80 > 30
    ((3, 0), -3.0, 0.0, 9.0),    # 2*3 + 0 = 6 < 15
]
# binary follower: F = x + 3 y1 - 4 y2, f = 2 y1 + 3 y2 (maximised), row 4 - x - 2 y1 - 2 y2
BIN_POINTS = [
    ((1, (0, 1)), -3.0, 3.0, 0.0),
    ((0, (1, 1)), -1.0, 5.0, 0.0),
    ((3, (0, 0)), 3.0, 0.0, 0.0),
    ((3, (1, 1)), 2.0, 5.0, 3.0),
    ((1, (0.5, 1)), -1.5, 4.0, 0.0),  # the relaxed follower's answer at x = 1
]


# ------------------------------------------------------------------ Pyomo
class TestPyomoBuild:
    def test_moore_bard_problem(self):
        bp = from_pyomo(moore_bard_pyomo())
        p = bp.problem
        assert (p.n_x, p.n_y) == (1, 1)
        assert p.y_names == ["L.y"] and p.x_names == ["x"]
        assert _integer_flags(p.y) == [True] and p.x_is_integer() == [True]
        assert _bounds(p.y) == [(0, None)] and _bounds(p.x) == [(0, None)]
        assert len(p.g) == 4 and not p.G
        for (x, y), F, f, viol in MB_POINTS:
            ev = p.evaluate([x], [y])
            assert ev["F"] == pytest.approx(F) and ev["f"] == pytest.approx(f)
            assert ev["g_violation"] == pytest.approx(viol)

    def test_binary_and_boolean_follower(self):
        p = from_pyomo(binary_pyomo()).problem
        assert p.n_y == 2 and p.y_names == ["L.y1", "L.y2"]
        assert _integer_flags(p.y) == [True, True]
        assert _bounds(p.y) == [(0, 1), (0, 1)]
        assert _bounds(p.x) == [(0, 3)] and p.x_is_integer() == [True]
        assert p.lower_sense == "max"
        for (x, y), F, f, viol in BIN_POINTS:
            ev = p.evaluate([x], list(y))
            assert ev["F"] == pytest.approx(F) and ev["f"] == pytest.approx(f)
            assert ev["g_violation"] == pytest.approx(viol)

    @pytest.mark.parametrize("domain, bounds, expected", [
        (pyo.Binary, (None, None), (0, 1)),
        (pyo.Binary, (None, 0), (0, 0)),
        (pyo.Boolean, (None, None), (0, 1)),
        (pyo.Integers, (-3, 4), (-3, 4)),
        (pyo.Integers, (None, None), (None, None)),
        (pyo.NonNegativeIntegers, (-3, 5), (0, 5)),
        (pyo.PositiveIntegers, (None, 7), (1, 7)),
        (pyo.NonPositiveIntegers, (-2, 3), (-2, 0)),
        (pyo.NegativeIntegers, (None, None), (None, -1)),
    ])
    def test_integer_domains_combine_bounds(self, domain, bounds, expected):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(bounds=(0, 1))
        m.L = LowerLevel()
        m.L.y = pyo.Var(within=domain, bounds=bounds)
        m.L.z = pyo.Var(bounds=(0, 3))  # a continuous follower variable next to it
        m.obj = pyo.Objective(expr=m.x + m.L.y + m.L.z)
        m.L.obj = pyo.Objective(expr=m.L.y - m.L.z)
        m.L.c = pyo.Constraint(expr=m.L.y + m.L.z >= m.x - 10)
        p = from_pyomo(m).problem
        assert _integer_flags(p.y) == [True, False]
        assert _bounds(p.y) == [expected, (0, 3)]

    def test_rangeset_domain_is_integer(self):
        m = pyo.ConcreteModel()
        m.R = pyo.RangeSet(2, 6)
        m.x = pyo.Var(bounds=(0, 1))
        m.L = LowerLevel()
        m.L.y = pyo.Var(within=m.R, bounds=(None, 5))
        m.obj = pyo.Objective(expr=m.x + m.L.y)
        m.L.obj = pyo.Objective(expr=m.L.y)
        m.L.c = pyo.Constraint(expr=m.L.y >= m.x)
        p = from_pyomo(m).problem
        assert _integer_flags(p.y) == [True] and _bounds(p.y) == [(2, 5)]

    def test_follower_listed_outside_block(self):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(within=pyo.NonNegativeIntegers, bounds=(0, 3))
        m.y = pyo.Var(within=pyo.Binary)
        m.L = LowerLevel(variables=[m.y])
        m.obj = pyo.Objective(expr=m.x - m.y)
        m.L.obj = pyo.Objective(expr=m.y)
        m.L.c = pyo.Constraint(expr=m.y >= m.x - 2)
        p = from_pyomo(m).problem
        assert p.y_names == ["y"] and _integer_flags(p.y) == [True] and _bounds(p.y) == [(0, 1)]

    @pytest.mark.parametrize("level", ["follower", "leader"])
    @pytest.mark.parametrize("make_domain", [
        lambda m: pyo.RangeSet(0, 10, 2),             # step 2
        lambda m: pyo.Set(initialize=[1, 3, 5]),      # not an interval
        lambda m: pyo.RangeSet(0.5, 4.5, 1),          # step 1 from a fractional start
    ])
    def test_unrepresentable_domains_refused(self, level, make_domain):
        m = pyo.ConcreteModel()
        m.D = make_domain(m)
        m.L = LowerLevel()
        if level == "follower":
            m.x = pyo.Var(bounds=(0, 1))
            m.L.y = pyo.Var(within=m.D)
        else:
            m.x = pyo.Var(within=m.D)
            m.L.y = pyo.Var(bounds=(0, 10))
        m.obj = pyo.Objective(expr=m.x + m.L.y)
        m.L.obj = pyo.Objective(expr=m.L.y)
        m.L.c = pyo.Constraint(expr=m.L.y >= m.x)
        name = "L.y" if level == "follower" else "x"
        with pytest.raises(BilevelInputError, match=f"{level} variable {name} has domain") as err:
            from_pyomo(m)
        assert "\n" not in str(err.value)

    def test_write_back_rounds_integers(self):
        m = binary_pyomo()
        bp = from_pyomo(m)
        bp.write_back(SimpleNamespace(x=np.array([1.0000001]), y=np.array([2e-9, 0.9999998]),
                                      duals={}))
        assert m.x.value == 1 and m.L.y1.value == 0 and m.L.y2.value == 1
        # continuous variables are written as they come
        m2 = pyo.ConcreteModel()
        m2.x = pyo.Var(bounds=(0, 1))
        m2.L = LowerLevel()
        m2.L.y = pyo.Var(within=pyo.Binary)
        m2.L.z = pyo.Var()
        m2.obj = pyo.Objective(expr=m2.x + m2.L.y + m2.L.z)
        m2.L.obj = pyo.Objective(expr=m2.L.z)
        m2.L.c = pyo.Constraint(expr=m2.L.z >= m2.x + m2.L.y)
        from_pyomo(m2).write_back(SimpleNamespace(x=[0.25], y=[0.9999, 1.2499], duals={}))
        assert m2.x.value == 0.25 and m2.L.y.value == 1 and m2.L.z.value == 1.2499

    def test_kkt_method_refuses_by_its_own_name(self):
        with pytest.raises(UnsupportedStructureError, match="follower variable L.y is integer: method 'kkt'"):
            bmp.solve(moore_bard_pyomo(), method="kkt")


# ------------------------------------------------------------------ CVXPY
class TestCvxpyBuild:
    def test_moore_bard_problem(self):
        from bilevel_mp.frontends.cvxpy import from_cvxpy

        x, y, leader, follower = moore_bard_cvxpy()
        p = from_cvxpy(leader, follower, [y]).problem
        assert (p.n_x, p.n_y) == (1, 1)
        assert p.x_names == ["x"] and p.y_names == ["y"]
        assert _integer_flags(p.y) == [True] and p.x_is_integer() == [True]
        assert _bounds(p.y) == [(0, None)] and _bounds(p.x) == [(0, None)]
        for (xv, yv), F, f, viol in MB_POINTS:
            ev = p.evaluate([xv], [yv])
            assert ev["F"] == pytest.approx(F) and ev["f"] == pytest.approx(f)
            assert ev["g_violation"] == pytest.approx(viol)

    def test_boolean_follower(self):
        from bilevel_mp.frontends.cvxpy import from_cvxpy

        x, y, leader, follower = binary_cvxpy()
        p = from_cvxpy(leader, follower, [y]).problem
        assert p.n_y == 2 and p.y_names == ["y[0]", "y[1]"]
        assert _integer_flags(p.y) == [True, True]
        assert _bounds(p.y) == [(0, 1), (0, 1)]
        assert _bounds(p.x) == [(0, 3)] and p.x_is_integer() == [True]
        assert p.lower_sense == "max"
        for (xv, yv), F, f, viol in BIN_POINTS:
            ev = p.evaluate([xv], list(yv))
            assert ev["F"] == pytest.approx(F) and ev["f"] == pytest.approx(f)
            assert ev["g_violation"] == pytest.approx(viol)

    def test_attributes_combine_and_partial_integer_index(self):
        cp = _cp()
        from bilevel_mp.frontends.cvxpy import from_cvxpy

        x = cp.Variable(name="x")
        k = cp.Variable(integer=True, bounds=[-2, 5], name="k")
        b = cp.Variable(2, boolean=True, nonneg=True, name="b")
        w = cp.Variable(3, integer=[(1,)], nonneg=True, name="w")  # only w[1] integer
        leader = cp.Problem(cp.Minimize(x + k + cp.sum(b) + cp.sum(w)), [x >= 0, x <= 1])
        follower = cp.Problem(cp.Minimize(k - cp.sum(b) + cp.sum(w)), [k + cp.sum(w) >= x])
        p = from_cvxpy(leader, follower, [k, b, w]).problem
        assert p.y_names == ["k", "b[0]", "b[1]", "w[0]", "w[1]", "w[2]"]
        assert _integer_flags(p.y) == [True, True, True, False, True, False]
        assert _bounds(p.y) == [(-2, 5), (0, 1), (0, 1), (0, None), (0, None), (0, None)]

    def test_auxiliary_variables_stay_continuous(self):
        """abs(...) in the follower and max(...) in the leader lift to epigraph variables:
        the user's integer y stays integer, every lifted variable is continuous."""
        cp = _cp()
        from bilevel_mp.frontends.cvxpy import from_cvxpy

        x = cp.Variable(integer=True, bounds=[0, 4], name="x")
        y = cp.Variable(integer=True, bounds=[-5, 5], name="y")
        leader = cp.Problem(cp.Minimize(cp.maximum(x - y, y - 2 * x)), [x + y <= 6])
        follower = cp.Problem(cp.Minimize(cp.abs(y - x) + 0.5 * y), [y >= -3])
        p = from_cvxpy(leader, follower, [y]).problem
        n_faux, n_laux = p.meta["follower_aux"], p.meta["leader_aux"]
        assert n_faux >= 1 and n_laux >= 1
        assert p.n_y == 1 + n_faux and p.n_x == 1 + n_laux
        assert _integer_flags(p.y) == [True] + [False] * n_faux
        assert p.x_is_integer() == [True] + [False] * n_laux
        assert all(name.startswith("follower.t[") for name in p.y_names[1:])
        assert all(bd == (None, None) for bd in _bounds(p.y)[1:])

    def test_write_back_rounds_integer_y(self):
        from bilevel_mp.frontends.cvxpy import from_cvxpy

        x, y, leader, follower = binary_cvxpy()
        bp = from_cvxpy(leader, follower, [y])
        bp.write_back(SimpleNamespace(x=np.array([0.9999997]), y=np.array([3e-8, 1.0000004]),
                                      duals={}))
        assert float(x.value) == 1.0
        assert list(np.asarray(y.value, float)) == [0.0, 1.0]

    def test_kkt_method_refuses_by_its_own_name(self):
        from bilevel_mp.frontends.cvxpy import from_cvxpy

        x, y, leader, follower = moore_bard_cvxpy()
        with pytest.raises(UnsupportedStructureError, match="follower variable y is integer: method 'kkt'"):
            bmp.solve(from_cvxpy(leader, follower, [y]), method="kkt")


# ------------------------------------------------------------------ solving
class TestSolveIntegerFollower:
    """End to end through ``bilevel_mp.solve`` (method "auto"): needs the exact method for
    integer followers."""

    def test_optimum_data(self):
        assert (MB["F_best"], MB["x_best"], MB["y_best"]) == (-22, [2], [2])

    def test_moore_bard_pyomo(self):
        m = moore_bard_pyomo()
        r = bmp.solve(m)
        assert r.status == "optimal"
        assert r.F == pytest.approx(MB["F_best"], abs=1e-6)
        assert list(r.x) == pytest.approx(MB["x_best"], abs=1e-6)
        assert list(r.y) == pytest.approx(MB["y_best"], abs=1e-6)
        assert m.x.value == 2 and m.L.y.value == 2
        assert pyo.value(m.obj) == pytest.approx(-22.0)

    def test_moore_bard_cvxpy(self):
        from bilevel_mp.frontends.cvxpy import from_cvxpy

        x, y, leader, follower = moore_bard_cvxpy()
        r = bmp.solve(from_cvxpy(leader, follower, [y], name="moore_bard_int"))
        assert r.status == "optimal"
        assert r.F == pytest.approx(MB["F_best"], abs=1e-6)
        assert list(r.x) == pytest.approx(MB["x_best"], abs=1e-6)
        assert list(r.y) == pytest.approx(MB["y_best"], abs=1e-6)
        assert float(x.value) == 2.0 and float(y.value) == 2.0
        assert leader.objective.value == pytest.approx(-22.0)

    def test_binary_follower_pyomo(self):
        m = binary_pyomo()
        r = bmp.solve(m)
        assert r.status == "optimal" and r.F == pytest.approx(-3.0, abs=1e-6)
        assert (m.x.value, m.L.y1.value, m.L.y2.value) == (1, 0, 1)

    def test_binary_follower_cvxpy(self):
        from bilevel_mp.frontends.cvxpy import from_cvxpy

        x, y, leader, follower = binary_cvxpy()
        r = bmp.solve(from_cvxpy(leader, follower, [y]))
        assert r.status == "optimal" and r.F == pytest.approx(-3.0, abs=1e-6)
        assert float(x.value) == 1.0 and list(np.asarray(y.value, float)) == [0.0, 1.0]
