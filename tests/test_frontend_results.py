"""Every front end's result holds the user's variables only (Pyomo, expression/BOLIB; the
CVXPY case, which has auxiliary variables, is in test_cvxpy_frontend.py)."""

import json

import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp.frontends.pyomo import LowerLevel
from bilevel_mp.library.classic import bolib_entries


def test_pyomo_result_values_by_variable_name():
    """Moore & Bard (1990) with a continuous follower: min -x - 10 y over 0 <= x <= 8,
    y in argmin {y : -25x + 20y <= 30, x + 2y <= 10, 2x - y <= 15, 2x + 10y >= 15}. The
    follower's minimum is y(x) = max((15 - 2x)/10, 0, 2x - 15), so F = -x - 10 y(x) is
    least at x = 8, y = 1, F = -18 (a grid over x agrees)."""
    m = pyo.ConcreteModel(name="moore_bard_lp")
    m.x = pyo.Var(bounds=(0, 8))
    m.L = LowerLevel()
    m.L.y = pyo.Var(bounds=(0, None))
    m.obj = pyo.Objective(expr=-m.x - 10 * m.L.y)
    m.L.obj = pyo.Objective(expr=m.L.y)
    m.L.c1 = pyo.Constraint(expr=-25 * m.x + 20 * m.L.y <= 30)
    m.L.c2 = pyo.Constraint(expr=m.x + 2 * m.L.y <= 10)
    m.L.c3 = pyo.Constraint(expr=2 * m.x - m.L.y <= 15)
    m.L.c4 = pyo.Constraint(expr=2 * m.x + 10 * m.L.y >= 15)
    r = bmp.solve(m)
    assert r.status == "optimal" and r.certified
    assert r.x.shape == (1,) and r.y.shape == (1,)
    assert set(r.values) == {"x", "L.y"} and r.internal == {}
    assert r.values["x"] == pytest.approx(pyo.value(m.x)) and r.values["L.y"] == pytest.approx(pyo.value(m.L.y))
    assert r.values == pytest.approx({"x": 8.0, "L.y": 1.0}, abs=1e-6) and r.F == pytest.approx(-18.0)
    x = r.values["x"]
    y_min = max((15 - 2 * x) / 10, 0.0, 2 * x - 15)
    assert r.values["L.y"] == pytest.approx(y_min, abs=1e-6)
    assert r.F == pytest.approx(-x - 10 * y_min, abs=1e-6)
    assert json.loads(json.dumps(r.to_dict()))["values"] == r.to_dict()["values"]


def test_expression_front_end_result_is_the_users_x_and_y():
    entry = bolib_entries()["Bard1984a"]
    r = bmp.solve(entry)
    assert (r.x.size, r.y.size) == (entry["n_x"], entry["n_y"])
    assert r.values == {} and r.internal == {}
    assert r.F == pytest.approx(28 / 9, abs=1e-6)
