"""Bad input gets a clear error (or status) naming what is wrong, before any solver runs."""

import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp.errors import BigMError, BilevelInputError, UnsupportedStructureError
from bilevel_mp.library import classic
from bilevel_mp.library.random_lplp import random_lplp


def small():
    p = bmp.BilevelProblem(1, 1, name="small", x_bounds=[(0, 2)], y_bounds=[(0, None)])
    p.set_upper(p.x[0] - p.y[0]).set_lower(p.y[0], [p.y[0] >= 1 - p.x[0], p.y[0] <= 3])
    return p


def test_unknown_method_mode_and_time_limit():
    with pytest.raises(BilevelInputError, match="unknown method"):
        bmp.solve(small(), method="magic")
    with pytest.raises(BilevelInputError, match="unknown complementarity mode"):
        bmp.solve(small(), mode="nope")
    with pytest.raises(BilevelInputError, match="time_limit"):
        bmp.solve(small(), time_limit=-1)


def test_bigm_without_dual_bound_names_the_multiplier():
    with pytest.raises(BigMError, match="multiplier of follower constraint 'g\\[0\\]'"):
        bmp.solve(small(), mode="bigm")


def test_bigm_with_user_bound_is_not_called_optimal():
    r = bmp.solve(classic.get("Bard1984a"), mode="bigm", dual_bound=1e3)
    assert r.certified and r.F == pytest.approx(28 / 9, rel=1e-6)
    assert r.status == "feasible"  # the dual bound is the user's claim, not a proof
    assert any("user-supplied" in a for a in r.assumptions)


def test_per_constraint_modes_and_unknown_constraint_name():
    r = bmp.solve(classic.get("Bard1984a"), mode="sos1", modes={"g[0]": "indicator", "g[1]": "product"})
    assert r.status == "optimal" and r.F == pytest.approx(28 / 9, rel=1e-6)
    with pytest.raises(BilevelInputError, match="do not exist"):
        bmp.solve(classic.get("Bard1984a"), modes={"g[99]": "sos1"})


def test_strong_duality_refuses_nonconvex_follower():
    with pytest.raises(UnsupportedStructureError, match="strong duality"):
        bmp.solve(classic.get("MitsosBarton2006Ex35"), method="strong_duality")


def test_lower_level_unbounded_is_reported():
    p = bmp.BilevelProblem(1, 1, name="unb", x_bounds=[(0, 1)])
    p.set_upper(p.x[0] + p.y[0]).set_lower(-p.y[0], [p.y[0] >= p.x[0]])
    r = bmp.solve(p)
    assert r.status == "lower_level_unbounded"
    assert "y[0]" in r.message and not r.certified


def test_infeasible_problem():
    p = bmp.BilevelProblem(1, 1, name="inf", x_bounds=[(0, 1)], y_bounds=[(0, 1)])
    p.set_upper(p.x[0], [p.x[0] + p.y[0] >= 3]).set_lower(p.y[0])
    r = bmp.solve(p)
    assert r.status == "infeasible" and "high-point relaxation" in r.message


def test_follower_never_cooperates_is_infeasible():
    # HPR feasible (y = 1 allowed) but the follower always picks y = 0: bilevel infeasible
    p = bmp.BilevelProblem(1, 1, name="inf2", x_bounds=[(0, 1)], y_bounds=[(0, 1)])
    p.set_upper(p.x[0], [p.y[0] >= 0.5]).set_lower(p.y[0])
    assert bmp.solve(p).status == "infeasible"


def test_time_limit_hit_returns_status_and_best_point():
    p = random_lplp(30, 1)
    r = bmp.solve(p, time_limit=3.0)
    assert r.status == "time_limit"
    # the branch-and-bound's heuristics find an incumbent within 3 s here: it is kept,
    # certified, and comes with the open bound
    assert r.x is not None and r.certified and r.found_by == "complementarity_bb"
    assert r.bound is not None and r.bound <= r.F + 1e-9 * max(1.0, abs(r.F))


@pytest.mark.parametrize("make,needle", [
    (lambda: bmp.BilevelProblem(1, 1, x_bounds=[(0, 1), (0, 1)]), "x_bounds has 2 entries"),
    (lambda: bmp.BilevelProblem(1, 1, x_bounds=[(2, 1)]), "exceeds upper bound"),
    (lambda: bmp.BilevelProblem(1, 1, x_integer=[True, False]), "x_integer has 2 entries"),
    (lambda: bmp.BilevelProblem(2, 0), "no variables"),
    (lambda: bmp.BilevelProblem(1, 1).set_upper(None), "objective is missing"),
    (lambda: (lambda p: p.set_upper(p.x[0], sense="minimise"))(bmp.BilevelProblem(1, 1)), "sense"),
])
def test_problem_construction_errors(make, needle):
    with pytest.raises(BilevelInputError, match=needle):
        make()


def test_foreign_variable_is_named():
    m = pyo.ConcreteModel()
    m.z = pyo.Var()
    p = bmp.BilevelProblem(1, 1)
    with pytest.raises(BilevelInputError, match="'z'"):
        p.set_upper(p.x[0] + m.z)


def test_missing_objective_before_solve():
    p = bmp.BilevelProblem(1, 1, name="half")
    p.set_upper(p.x[0])
    with pytest.raises(BilevelInputError, match="lower-level objective f is missing"):
        bmp.solve(p)


def test_mismatched_point_dimensions():
    p = small()
    with pytest.raises(BilevelInputError, match="x has 2 entries"):
        p.evaluate([1, 2], [0])
    from bilevel_mp.core.certify import certify

    with pytest.raises(BilevelInputError, match="y has 3 entries"):
        certify(p, [1.0], [0, 0, 0])
