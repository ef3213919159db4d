"""Pyomo front end: a model with a LowerLevel block, values and duals written back."""

import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp.errors import BilevelInputError
from bilevel_mp.frontends.pyomo import LowerLevel, mark_lower


def jump_readme():
    m = pyo.ConcreteModel("jump_readme")
    m.y = pyo.Var(bounds=(0, 8))
    m.L = LowerLevel()
    m.L.x = pyo.Var(bounds=(None, 5))
    m.obj = pyo.Objective(expr=3 * m.L.x + m.y)
    m.L.obj = pyo.Objective(expr=-m.L.x)
    m.L.c1 = pyo.Constraint(expr=m.L.x + m.y <= 8)
    m.L.c2 = pyo.Constraint(expr=4 * m.L.x + m.y >= 8)
    m.L.c3 = pyo.Constraint(expr=2 * m.L.x + m.y <= 13)
    m.L.c4 = pyo.Constraint(expr=2 * m.L.x - 7 * m.y <= 0)
    return m


def test_solution_and_duals_written_back():
    m = jump_readme()
    r = bmp.solve(m)
    assert r.status == "optimal" and r.certified
    assert pyo.value(m.obj) == pytest.approx(3 * (3.5 * 8 / 15) + 8 / 15, rel=1e-6)
    assert m.L.x.value == pytest.approx(3.5 * 8 / 15, rel=1e-6)
    assert m.y.value == pytest.approx(8 / 15, rel=1e-6)
    # follower at y = 8/15: max x s.t. 2x <= 7y binds -> multiplier of c4 is 1/2,
    # the others are slack (independently: d(-x)/d(rhs of 2x - 7y <= 0) = -1/2)
    assert m.L.dual[m.L.c4] == pytest.approx(0.5, rel=1e-6)
    for c in (m.L.c1, m.L.c2, m.L.c3):
        assert abs(m.L.dual[c]) <= 1e-7


def test_maximisation_and_ranged_constraints():
    m = pyo.ConcreteModel("maxrange")
    m.x = pyo.Var(bounds=(0, 4))
    m.L = pyo.Block()
    mark_lower(m.L)
    m.L.y = pyo.Var()
    m.obj = pyo.Objective(expr=m.x + 2 * m.L.y, sense=pyo.maximize)
    m.L.obj = pyo.Objective(expr=m.L.y, sense=pyo.maximize)  # follower maximises y
    m.L.c = pyo.Constraint(expr=pyo.inequality(0, m.L.y + m.x, 5))
    r = bmp.solve(m)
    # follower: y = 5 - x; leader: max x + 2(5 - x) = 10 - x -> x = 0, F = 10
    assert r.status == "optimal" and r.F == pytest.approx(10.0)
    assert m.x.value == pytest.approx(0.0, abs=1e-7) and m.L.y.value == pytest.approx(5.0)
    # ranged constraint: the upper side binds, multiplier reported as λ_lo - λ_hi = -1
    assert m.L.dual[m.L.c] == pytest.approx(-1.0, rel=1e-6)


def test_missing_block_and_bad_models():
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.o = pyo.Objective(expr=m.x)
    with pytest.raises(BilevelInputError, match="no lower-level block"):
        bmp.solve(m)
    m.L = LowerLevel()
    m.L.y = pyo.Var(within=pyo.Integers, bounds=(0, 3))
    m.L.o = pyo.Objective(expr=m.L.y)
    m.L.c = pyo.Constraint(expr=m.L.y >= m.x)
    # an integer follower is no longer refused by the front end (the methods decide)
    from bilevel_mp.frontends.pyomo import from_pyomo
    assert not from_pyomo(m).problem.y[0].is_continuous()
    m2 = jump_readme()
    m2.obj2 = pyo.Objective(expr=m2.y)
    with pytest.raises(BilevelInputError, match="exactly one active objective"):
        bmp.solve(m2)


def test_integer_follower_in_problem_api_is_solved():
    """min x + y, y in argmin {y : y >= x, y integer}: y = ceil(x), so F = x + ceil(x),
    lowest at the smallest x: x = -3.5 gives y = -3, F = -6.5 (a row with a continuous x:
    the cut point is moved strictly inside). Without a lower bound on x, F is unbounded
    below and the relaxation says so."""
    def build(lb):
        p = bmp.BilevelProblem(1, 1, x_bounds=[(lb, 5)])
        p.y[0].domain = pyo.Integers
        return p.set_upper(p.x[0] + p.y[0]).set_lower(p.y[0], [p.y[0] >= p.x[0]])

    r = bmp.solve(build(-3.5), time_limit=30)
    assert r.status == "optimal" and r.F == pytest.approx(-6.5) and r.y[0] == -3
    r = bmp.solve(build(None), time_limit=30)
    assert r.status != "optimal" and "unbounded" in r.message


def test_fixed_variables_are_data():
    """A fixed leader variable enters as its value (it used to be refused as foreign):
    min a + b - 2y with y in argmin {y : y >= a + b, 0 <= y <= 10} and b fixed at 2."""
    import pyomo.environ as pyo

    import bilevel_mp as bmp
    from bilevel_mp.frontends.pyomo import LowerLevel

    m = pyo.ConcreteModel()
    m.a = pyo.Var(bounds=(0, 5))
    m.b = pyo.Var(bounds=(0, 5))
    m.b.fix(2)
    m.L = LowerLevel()
    m.L.y = pyo.Var(bounds=(0, 10))
    m.obj = pyo.Objective(expr=m.a + m.b - 2 * m.L.y)
    m.L.obj = pyo.Objective(expr=m.L.y)
    m.L.c = pyo.Constraint(expr=m.L.y >= m.a + m.b)
    r = bmp.solve(m)
    # F = a + 2 - 2(a + 2) = -a - 2, minimised at a = 5: F = -7, y = 7
    assert r.status == "optimal" and r.F == pytest.approx(-7.0)
    assert m.a.value == pytest.approx(5.0) and m.L.y.value == pytest.approx(7.0)
    assert m.b.value == 2 and m.b.fixed
