"""The integer-follower fixtures of tests/data/mps_aux (Moore & Bard 1990, F* = -22; the
MibS input-format example, F* = -41) solved through every front end: MPS+AUX as read, its
JSON form, and Pyomo and CVXPY models written from the instance's arrays here (not by the
package's writers). The truth is the fixture's known optimum, which test_mps_aux.py checks
by brute force."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp.algorithms.lplp_data import extract
from bilevel_mp.frontends.expr import problem_from_dict, problem_to_dict
from bilevel_mp.frontends.mps_aux import read_mps_aux
from bilevel_mp.frontends.pyomo import LowerLevel

DATA = Path(__file__).resolve().parent / "data" / "mps_aux"
FIXTURES = [e for e in json.loads((DATA / "optima.json").read_text()) if e["follower"] == "integer"]


def _arrays(entry):
    p = read_mps_aux(DATA / entry["mps"], DATA / entry["aux"])
    return p, extract(p)


def _bound(v):
    return None if not np.isfinite(v) else float(v)


def pyomo_model(p, d):
    """min F_x x + F_y y (+F_0) s.t. leader rows; follower min c y s.t. A x + D y + r >= 0."""
    m = pyo.ConcreteModel()
    m.I, m.J = range(p.n_x), range(p.n_y)
    m.x = pyo.Var(m.I, within=pyo.Integers if all(p.x_is_integer()) else pyo.Reals,
                  bounds=lambda _, i: (_bound(d.x_lb[i]), _bound(d.x_ub[i])))
    m.L = LowerLevel()
    m.L.y = pyo.Var(m.J, within=pyo.Integers, bounds=lambda _, j: (_bound(d.y_lb[j]), _bound(d.y_ub[j])))
    m.obj = pyo.Objective(expr=sum(d.F_x[i] * m.x[i] for i in m.I) + sum(d.F_y[j] * m.L.y[j] for j in m.J) + d.F_0)
    m.G = pyo.ConstraintList()
    for a, lo, hi in zip(d.L, d.L_lo, d.L_hi):
        body = sum(a[i] * m.x[i] for i in m.I) + sum(a[p.n_x + j] * m.L.y[j] for j in m.J)
        m.G.add((_bound(lo), body, _bound(hi)))
    m.L.obj = pyo.Objective(expr=sum(d.c[j] * m.L.y[j] for j in m.J))
    m.L.g = pyo.ConstraintList()
    for a, b, r in zip(d.A, d.D, d.r):
        if np.any(b):
            m.L.g.add(sum(a[i] * m.x[i] for i in m.I) + sum(b[j] * m.L.y[j] for j in m.J) + r >= 0)
    return m


def _box(expr, lo, hi) -> list:
    """expr[k] >= lo[k] and <= hi[k] wherever finite (a scalar expr for one-entry bounds)."""
    pick = (lambda k: expr) if len(lo) == 1 and not getattr(expr, "shape", ()) else (lambda k: expr[k])
    return [c for k in range(len(lo)) for c in
            ([pick(k) >= lo[k]] if np.isfinite(lo[k]) else []) + ([pick(k) <= hi[k]] if np.isfinite(hi[k]) else [])]


def cvxpy_problem(p, d):
    cp = pytest.importorskip("cvxpy")
    x = cp.Variable(p.n_x, integer=all(p.x_is_integer()), name="x")
    y = cp.Variable(p.n_y, integer=True, name="y")
    cons_x = _box(x, d.x_lb, d.x_ub)
    for a, lo, hi in zip(d.L, d.L_lo, d.L_hi):
        cons_x += _box(a[:p.n_x] @ x + a[p.n_x:] @ y, [lo], [hi])
    cons_y = _box(y, d.y_lb, d.y_ub)
    for a, b, r in zip(d.A, d.D, d.r):
        if np.any(b) and not (np.count_nonzero(b) == 1 and not np.any(a)):  # bounds are above
            cons_y.append(a @ x + b @ y + r >= 0)
    leader = cp.Problem(cp.Minimize(d.F_x @ x + d.F_y @ y + d.F_0), cons_x)
    follower = cp.Problem(cp.Minimize(d.c @ y), cons_y)
    from bilevel_mp.frontends.cvxpy import from_cvxpy
    return from_cvxpy(leader, follower, [y], name=p.name)


def _check(r, entry):
    assert r.status == "optimal" and r.certified, (r.status, r.message)
    assert r.F == pytest.approx(entry["F_best"], abs=1e-9)
    assert np.allclose(r.x, entry["x_best"]) and np.allclose(r.y, entry["y_best"])


@pytest.mark.parametrize("entry", FIXTURES, ids=lambda e: e["mps"])
@pytest.mark.parametrize("frontend", ["mps_aux", "json", "pyomo", "cvxpy"])
def test_fixture_through_frontend(entry, frontend):
    p, d = _arrays(entry)
    assert p.sense_sign == 1 and all(not v.is_continuous() for v in p.y.values())
    if frontend == "mps_aux":
        r = bmp.solve(p, time_limit=30)
    elif frontend == "json":
        q = problem_from_dict(json.loads(json.dumps(problem_to_dict(p))))
        assert all(not v.is_continuous() for v in q.y.values())
        r = bmp.solve(q, time_limit=30)
    elif frontend == "pyomo":
        m = pyomo_model(p, d)
        r = bmp.solve(m, time_limit=30)
        assert [pyo.value(m.L.y[j]) for j in range(p.n_y)] == pytest.approx(entry["y_best"])
    else:
        r = bmp.solve(cvxpy_problem(p, d), time_limit=30)
    _check(r, entry)
