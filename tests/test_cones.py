"""Second-order cone followers: recognised from the user's algebra, solved by their conic
KKT conditions after a proof of Slater's condition, checked against hand derivations, a
published example and an independent grid over x with the follower solved by SCS."""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp.cones import follower_cones, soc_row
from bilevel_mp.errors import UnsupportedStructureError
from bilevel_mp.library.random_soc import grid_optimum, random_soc, scs_value
from bilevel_mp.problem import Constraint
from bilevel_mp.reformulations.slater import margin_problem
from bilevel_mp.structure import curved_rows, detect


def chi_example():
    """Chi, Wan & Hao (2014), Example 3.1 (BilevelJuMP's SOC example): optimum 12 at x = 6."""
    p = bmp.BilevelProblem(n_x=1, n_y=2, name="chi31")
    x, y = p.x, p.y
    p.set_upper(x[0] + 3 * (y[0] - y[1]), [x[0] >= 2, x[0] <= 6])
    p.set_lower(-(y[0] - y[1]), [y[0] >= 0, y[1] >= 0, x[0] + y[0] - y[1] <= 8,
                                 x[0] + 4 * (y[0] - y[1]) >= 8, x[0] + 2 * (y[0] - y[1]) <= 12,
                                 pyo.sqrt(y[1] ** 2) <= y[0]])
    return p


def disk_follower():
    """min (x−1)² + (y0+1)²; follower min y0 + y1 over the unit disk around (x, 0).
    Hand: y(x) = (x − 1/√2, −1/√2), F(x) = (x−1)² + (x + 1 − 1/√2)², x* = 1/(2√2)."""
    p = bmp.BilevelProblem(n_x=1, n_y=2, name="disk")
    x, y = p.x, p.y
    p.set_upper((x[0] - 1) ** 2 + (y[0] + 1) ** 2)
    p.set_lower(y[0] + y[1], [1 - pyo.sqrt((y[0] - x[0]) ** 2 + y[1] ** 2) >= 0])
    return p


def apex_follower():
    """Follower min y1 s.t. |y0 − x| <= y1: its optimum y = (x, 0) is the cone's apex,
    where the row has no gradient. F = (x − ½)² + y1 + (y0 − 1)²: hand x* = ¾, F* = ⅛."""
    p = bmp.BilevelProblem(n_x=1, n_y=2, name="apex", x_bounds=[(-2, 2)])
    x, y = p.x, p.y
    p.set_upper((x[0] - 0.5) ** 2 + y[1] + (y[0] - 1) ** 2)
    p.set_lower(y[1], [pyo.sqrt((y[0] - x[0]) ** 2) <= y[1]])
    return p


@pytest.mark.parametrize("method", ["auto", "kkt"])
def test_chi_example_matches_its_published_optimum(method):
    r = bmp.solve(chi_example(), method=method, time_limit=60)
    assert r.status == "optimal"
    assert r.F == pytest.approx(12.0, abs=1e-6)
    assert r.x[0] == pytest.approx(6.0, abs=1e-6)
    assert r.y[0] - r.y[1] == pytest.approx(2.0, abs=1e-6)
    assert r.structure == "LP-SOCP"


@pytest.mark.parametrize("method", ["auto", "kkt"])
def test_disk_follower_matches_the_hand_derivation(method):
    r = bmp.solve(disk_follower(), method=method, time_limit=60)
    xs = 1 / (2 * math.sqrt(2))
    F_star = (xs - 1) ** 2 + (xs + 1 - 1 / math.sqrt(2)) ** 2
    assert r.status == "optimal"
    assert r.F == pytest.approx(F_star, abs=1e-6)
    assert r.x[0] == pytest.approx(xs, abs=2e-3)  # F is flat in x: x is known to √tol
    assert r.y == pytest.approx([r.x[0] - 1 / math.sqrt(2), -1 / math.sqrt(2)], abs=1e-5)
    assert r.certificate.certified and not r.assumptions


def test_apex_optimum_is_proven_with_conic_multipliers():
    r = bmp.solve(apex_follower(), method="kkt", time_limit=60)
    assert r.status == "optimal"
    assert r.F == pytest.approx(0.125, abs=1e-6)
    assert r.x[0] == pytest.approx(0.75, abs=1e-3)
    assert r.y == pytest.approx([r.x[0], 0.0], abs=1e-6)
    assert r.duals["g[0]"] == pytest.approx(1.0, abs=1e-6)  # ∂f/∂t of min y1 over the cone


# ---------------------------------------------------------------- recognition
def _cone_of(body):
    return soc_row(Constraint("c", body, "ge"))


def test_the_written_forms_of_a_cone_are_recognised():
    m = pyo.ConcreteModel()
    m.x, m.y = pyo.Var(), pyo.Var([0, 1])
    q = (m.y[0] - m.x) ** 2 + m.y[1] ** 2
    for body, scale in ((1 - pyo.sqrt(q), 1.0), (3 + m.y[0] - 2 * pyo.sqrt(q), 2.0),
                        (m.x + 1 - q ** 0.5, 1.0), (-(pyo.sqrt(q) / 4) + 2, 0.25)):
        cone = _cone_of(body)
        assert cone is not None and cone.scale == pytest.approx(scale)
    assert _cone_of(pyo.sqrt(q) - 1) is None  # ‖u‖ >= 1: the outside of a ball, not convex
    assert _cone_of(1 - pyo.sqrt(m.y[0] * m.y[1])) is None  # not a sum of squares
    assert _cone_of(1 - pyo.sqrt(q) - pyo.sqrt(m.y[0] ** 2)) is None  # two roots: not one cone


def test_a_psd_form_is_factored_exactly():
    m = pyo.ConcreteModel()
    m.x, m.y = pyo.Var(), pyo.Var([0, 1])
    q = m.y[0] ** 2 + 2 * m.y[0] * m.y[1] + 2 * m.y[1] ** 2 - 2 * m.x * m.y[1] + m.x ** 2 + 1
    cone = _cone_of(5 - pyo.sqrt(q))
    assert cone is not None
    rng = np.random.default_rng(7)
    for _ in range(5):
        for v, val in zip((m.x, m.y[0], m.y[1]), rng.normal(size=3)):
            v.set_value(float(val))
        assert sum(pyo.value(u) ** 2 for u in cone.u) == pytest.approx(pyo.value(q), rel=1e-9)
        assert pyo.value(cone.t) == pytest.approx(5.0)


def test_a_cone_whose_t_is_not_affine_in_y_is_not_convex():
    p = bmp.BilevelProblem(n_x=1, n_y=2)
    x, y = p.x, p.y
    p.set_upper(x[0] + y[0])
    p.set_lower(y[0], [y[1] ** 2 - pyo.sqrt(y[0] ** 2 + 1) >= 0])
    s = detect(p)
    assert s.lower_cones == 1 and not s.lower_convex


# ---------------------------------------------------------------- Slater
def test_slater_is_proven_where_a_strict_point_exists_for_every_x():
    p = disk_follower()
    assert [c.name for c in curved_rows(p)] == ["g[0]"]
    check = margin_problem(p)
    r = bmp.solve(check, method="kkt", time_limit=60)
    assert r.status == "optimal" and r.F == pytest.approx(1.0, abs=1e-6)  # y = (x, 0): margin 1


def slater_fails_quadratic():
    """Follower min −y s.t. y² <= x; the leader forces x = 0, where y = 0 is the only
    follower point and has no multiplier. True optimum F = 0 at (0, 0)."""
    p = bmp.BilevelProblem(n_x=1, n_y=1, x_bounds=[(0, 1)], y_bounds=[(-2, 2)])
    x, y = p.x, p.y
    p.set_upper(-x[0] + 3 * y[0], [0 - x[0] >= 0])
    p.set_lower(-y[0], [x[0] - y[0] ** 2 >= 0])
    return p


def slater_fails_cone():
    """Follower min y0 + y1 over the unit disk with y0 >= x; the leader forces x = 1,
    where y = (1, 0) is the only follower point. True optimum F = −1."""
    p = bmp.BilevelProblem(n_x=1, n_y=2, x_bounds=[(0, 1)])
    x, y = p.x, p.y
    p.set_upper(-x[0] + y[1], [x[0] >= 1])
    p.set_lower(y[0] + y[1], [y[0] >= x[0], pyo.sqrt(y[0] ** 2 + y[1] ** 2) <= 1])
    return p


@pytest.mark.parametrize("build", [slater_fails_quadratic, slater_fails_cone])
def test_without_a_slater_point_kkt_claims_nothing(build):
    """Before the check, KKT called both problems 'infeasible' (an exact-looking verdict)."""
    r = bmp.solve(build(), method="kkt", time_limit=60)
    assert r.status not in ("infeasible", "optimal")
    assert any("Slater" in a for a in r.assumptions)


@pytest.mark.parametrize("build, F_star", [(slater_fails_quadratic, 0.0), (slater_fails_cone, -1.0)])
def test_without_a_slater_point_auto_still_finds_the_optimum(build, F_star):
    r = bmp.solve(build(), time_limit=60)
    assert r.status in ("optimal", "feasible")
    assert r.F == pytest.approx(F_star, abs=1e-3)


def test_dual_of_a_cone_row_is_refused():
    p = disk_follower()
    price = p.dual_of("g[0]")
    p.set_upper((p.x[0] - 1) ** 2 + price)
    with pytest.raises(UnsupportedStructureError, match="cone"):
        bmp.solve(p, method="kkt")


# ---------------------------------------------------------------- random instances
@pytest.mark.parametrize("seed", [400, 401, 402, 403])
def test_random_cone_followers_match_a_grid_over_x(seed):
    """Independent: F(x, y(x)) with y(x) solved by SCS on a grid of x, refined
    around the best grid point by a bounded scalar search; the solve must be certified
    optimal, as good as the grid's best, and its F the independent value at its x."""
    p = random_soc(seed)
    r = bmp.solve(p, time_limit=120)
    assert r.status == "optimal", r.message
    best = grid_optimum(p)
    assert r.F <= best + 1e-5
    assert r.F == pytest.approx(scs_value(p, float(r.x[0])), abs=1e-5)


# ---------------------------------------------------------------- front ends
def test_pyomo_lower_level_with_a_cone():
    from bilevel_mp.frontends.pyomo import LowerLevel, from_pyomo

    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.y = pyo.Var([0, 1])
    m.obj = pyo.Objective(expr=(m.x - 1) ** 2 + (m.y[0] + 1) ** 2)
    m.L = LowerLevel(variables=[m.y[0], m.y[1]])
    m.L.obj = pyo.Objective(expr=m.y[0] + m.y[1])
    m.L.disk = pyo.Constraint(expr=pyo.sqrt((m.y[0] - m.x) ** 2 + m.y[1] ** 2) <= 1)
    r = bmp.solve(from_pyomo(m), time_limit=60)
    xs = 1 / (2 * math.sqrt(2))
    assert r.status == "optimal"
    assert r.F == pytest.approx(2 * (1 - xs) ** 2, abs=1e-6)


def test_cvxpy_norm_and_soc_constraints_in_the_follower():
    import cvxpy as cp
    from bilevel_mp.frontends.cvxpy import from_cvxpy

    x, y = cp.Variable(name="x"), cp.Variable(2, name="y")
    leader = cp.Problem(cp.Minimize(cp.square(x - 1) + cp.square(y[0] + 1)))
    follower = cp.Problem(cp.Minimize(y[0] + y[1]), [cp.norm(y - cp.hstack([x, 0])) <= 1])
    r = bmp.solve(from_cvxpy(leader, follower, [y]), time_limit=60)
    xs = 1 / (2 * math.sqrt(2))
    assert r.status == "optimal"
    assert r.F == pytest.approx(2 * (1 - xs) ** 2, abs=1e-6)
    assert y.value == pytest.approx([xs - 1 / math.sqrt(2), -1 / math.sqrt(2)], abs=1e-5)
    # Chi et al. 3.1 with y in K² as a cp.SOC constraint
    x, y = cp.Variable(name="x"), cp.Variable(2, name="y")
    leader = cp.Problem(cp.Minimize(x + 3 * (y[0] - y[1])), [x >= 2, x <= 6])
    follower = cp.Problem(cp.Minimize(-(y[0] - y[1])),
                          [y >= 0, x + y[0] - y[1] <= 8, x + 4 * (y[0] - y[1]) >= 8,
                           x + 2 * (y[0] - y[1]) <= 12, cp.SOC(y[0], y[1:])])
    r = bmp.solve(from_cvxpy(leader, follower, [y]), time_limit=60)
    assert r.status == "optimal" and r.F == pytest.approx(12.0, abs=1e-6)
    assert x.value == pytest.approx(6.0, abs=1e-6)


def test_cvxpy_vector_soc_reads_each_cone():
    """cp.SOC(t, X, axis=0): each column of X is one cone; axis=1: each row."""
    import cvxpy as cp
    from bilevel_mp.frontends.cvxpy import from_cvxpy

    for axis in (0, 1):
        x, y = cp.Variable(name="x"), cp.Variable(2, name="y")
        X = cp.vstack([y - x, y + x]) if axis == 0 else cp.hstack([cp.reshape(y - x, (2, 1), order="F"),
                                                                  cp.reshape(y + x, (2, 1), order="F")])
        leader = cp.Problem(cp.Minimize(cp.sum(y) - x), [x >= 0, x <= 1])
        # one cone per j: ‖(y_j − x, y_j + x)‖ <= 2
        follower = cp.Problem(cp.Minimize(-cp.sum(y)), [cp.SOC(2 * np.ones(2), X, axis=axis)])
        p = from_cvxpy(leader, follower, [y])
        assert len(follower_cones(p.problem)) == 2
        r = bmp.solve(p, time_limit=60)
        # follower: max y_j with (y_j − x)² + (y_j + x)² <= 4: y_j = sqrt(2 − x²); F = 2√(2 − x²) − x
        assert r.status == "optimal"
        assert r.F == pytest.approx(2 * math.sqrt(2 - 1) - 1, abs=1e-5)


def test_blvpy_parameter_dependent_socp_example():
    """blvpy's test ``parameter_dependent_socp_with_active_upper_constraint``: follower
    min t + x·y0 s.t. (t, y) in K³, y0 = 1, x·y0 + y1 = 1 (so t = √(1 + (1−x)²)); leader
    min (x−2)² + ‖y − (1, 0)‖² + (t−1)² with x <= 1, decreasing up to the bound: by hand
    x = 1, y = (1, 0), t = 1, F = 1 (blvpy's value)."""
    import cvxpy as cp
    from bilevel_mp.frontends.cvxpy import from_cvxpy

    x = cp.Variable(name="x", bounds=[0.25, 1.5])
    y, t = cp.Variable(2, name="y"), cp.Variable(name="t")
    follower = cp.Problem(cp.Minimize(t + x * y[0]), [cp.SOC(t, y), y[0] == 1.0, x * y[0] + y[1] == 1.0])
    leader = cp.Problem(cp.Minimize(cp.square(x - 2.0) + cp.sum_squares(y - np.array([1.0, 0.0]))
                                    + cp.square(t - 1.0)), [x <= 1.0])
    r = bmp.solve(from_cvxpy(leader, follower, [y, t]), time_limit=60)
    assert r.status == "optimal" and r.F == pytest.approx(1.0, abs=1e-6)
    assert float(x.value) == pytest.approx(1.0, abs=1e-6)
    assert y.value == pytest.approx([1.0, 0.0], abs=1e-6) and float(t.value) == pytest.approx(1.0, abs=1e-6)


def test_a_cone_whose_u_has_no_y_is_an_ordinary_row():
    """sqrt(x² + 1) <= y0 is affine in y: no conic multiplier, no Slater-based bound on
    it (a bound from the curved rows' margin cut its multiplier 1 to 0.5 and made KKT
    call this feasible problem infeasible). By hand: y0 = √(x²+1), the follower is
    indifferent in y1, so the leader takes y1 = −5 and x = 0: F = −4."""
    p = bmp.BilevelProblem(n_x=1, n_y=2, x_bounds=[(0, 1)], y_bounds=[(0, 1.5), (-10, 10)])
    x, y = p.x, p.y
    p.set_upper(x[0] + y[0] + y[1])
    p.set_lower(y[0], [pyo.sqrt(x[0] ** 2 + 1) <= y[0], pyo.sqrt(y[1] ** 2) <= 5])
    assert list(follower_cones(p)) == ["g[1]"]
    for method in ("kkt", "auto"):
        r = bmp.solve(p, method=method, time_limit=60)
        assert r.status == "optimal" and r.F == pytest.approx(-4.0, abs=1e-6)


def test_methods_that_cannot_serve_a_cone_follower_say_so():
    p = disk_follower()
    with pytest.raises(UnsupportedStructureError, match="strong duality"):
        bmp.solve(p, method="strong_duality")
    with pytest.raises(bmp.BilevelInputError, match="cone"):
        bmp.solve(p, method="kkt", modes={"g[0]": "bigm"})


def test_exported_cone_model_is_solved_by_scip_alone(tmp_path):
    """The KKT model of a cone follower goes to MPS with the cone as a quadratic row over
    its own variables (the square-root form is not written); SCIP reading only the file
    finds the hand optimum 2(1 − 1/(2√2))²."""
    pyscipopt = pytest.importorskip("pyscipopt")
    info = bmp.export(disk_follower(), tmp_path / "disk.mps", method="kkt")
    m = pyscipopt.Model()
    m.hideOutput()
    m.readProblem(str(info.path))
    m.optimize()
    assert m.getStatus() == "optimal"
    assert m.getObjVal() == pytest.approx(2 * (1 - 1 / (2 * math.sqrt(2))) ** 2, abs=1e-6)
