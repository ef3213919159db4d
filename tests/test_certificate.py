"""The certificate re-solves the follower and refuses points that are not optimal for it."""

import numpy as np
import pytest

import bilevel_mp as bmp
from bilevel_mp.core.certify import certify
from bilevel_mp.library import classic

from .conftest import linear_follower_lp


def test_certificate_accepts_optimum_and_rejects_wrong_y():
    p = classic.get("Bard1984a")
    r = bmp.solve(p)
    fstar, _ = linear_follower_lp(p, r.x)  # independent re-solve (scipy interior point)
    assert r.certificate.ll_optimal_value == pytest.approx(fstar, abs=1e-6)
    bad = certify(p, r.x, r.y - 0.5)  # feasible for the follower but not optimal
    assert not bad.certified and bad.ll_gap > 0.1
    infeasible = certify(p, r.x, r.y + 100)
    assert not infeasible.certified and infeasible.lower_violation > 1


def test_certificate_for_nonlinear_follower_is_global():
    # follower: min (y^2 - 1)^2 over [-2, 2] at x: two global minima y = ±1
    p = bmp.BilevelProblem(1, 1, x_bounds=[(0, 1)], y_bounds=[(-2, 2)])
    p.set_upper(p.y[0] + p.x[0]).set_lower((p.y[0] ** 2 - 1) ** 2 + 0.01 * p.y[0] * p.x[0])
    c = certify(p, [1.0], [1.0])  # local minimum, not global (0.01 y x favours y = -1)
    assert not c.certified and c.ll_gap > 0.01
    c2 = certify(p, [1.0], [c.y_best[0]])
    assert c2.certified and c.y_best[0] < 0


def test_kkt_on_nonconvex_follower_is_never_optimal():
    # nonconvex follower: the KKT answer is flagged inexact, never "optimal"
    r = bmp.solve(classic.get("MitsosBarton2006Ex35"), method="kkt")
    assert r.status != "optimal"
    assert any("not proven convex" in a for a in r.assumptions)


def test_value_function_proves_nonconvex_follower_optimum():
    # auto picks value-function cuts: the relaxation's optimum is certified globally
    p = classic.get("MitsosBarton2006Ex35")
    r = bmp.solve(p)
    assert r.method == "auto" and r.found_by == "value_function" and r.status == "optimal"
    assert r.certified and r.certificate.exact and r.certificate.solver == "scip"
    assert r.F == pytest.approx(p.known_F, abs=1e-2)


# ---------------------------------------------------------------- ll_status vocabulary
from bilevel_mp.backends.single_level import SolveOutcome  # noqa: E402
from bilevel_mp.core import certify as certify_module  # noqa: E402
from bilevel_mp.core.certify import follower_status  # noqa: E402
from bilevel_mp.result import LL_STATUSES  # noqa: E402


def _unbounded_follower(cubic=False, infeasible=False):
    """Follower min -y (or -y^3) s.t. y >= x: unbounded at every x; with ``infeasible``
    also y <= x - 1, so no y is feasible."""
    p = bmp.BilevelProblem(1, 1, name="unb", x_bounds=[(0, 1)])
    g = [p.y[0] >= p.x[0]] + ([p.y[0] <= p.x[0] - 1] if infeasible else [])
    p.set_upper(p.x[0] + p.y[0]).set_lower(-p.y[0] ** 3 if cubic else -p.y[0], g)
    return p


@pytest.mark.parametrize("outcome, expected", [
    (SolveOutcome("optimal", objective=1.0, bound=1.0, solver="highs", message="Optimal"), "optimal"),
    (SolveOutcome("unbounded", solver="scip", message="inforunbd"), "infeasible_or_unbounded"),
    (SolveOutcome("unbounded", solver="highs", message="Primal infeasible or unbounded"),
     "infeasible_or_unbounded"),
    (SolveOutcome("unbounded", solver="scip", message="unbounded"), "unbounded"),
    (SolveOutcome("optimal", objective=-1e20, bound=-1e20, solver="scip", message="optimal"), "unbounded"),
    (SolveOutcome("time_limit", objective=2.0, bound=-1e20, solver="scip", message="timelimit"),
     "time_limit"),  # no dual bound yet is not unboundedness
    (SolveOutcome("locally_optimal", objective=0.0, solver="ipopt", message="optimal"), "error"),
    (SolveOutcome("error", solver="scip", message="unknown"), "error"),
    (SolveOutcome("infeasible", solver="scip", message="infeasible"), "infeasible"),
])
def test_follower_status_maps_backend_outcomes_to_the_vocabulary(outcome, expected):
    assert follower_status(outcome) == expected
    assert expected in LL_STATUSES


def test_certificate_keeps_the_solver_status_and_reports_unbounded():
    c = certify(_unbounded_follower(), [0.5], [0.5])  # HiGHS: "Unbounded"
    assert c.ll_status == "unbounded" and c.solver_status == "Unbounded" and not c.certified
    # SCIP answers "optimal" at its infinity (-1e20) for this nonlinear follower: unbounded
    c = certify(_unbounded_follower(cubic=True), [0.5], [0.5])
    assert c.solver == "scip" and c.solver_status == "optimal"
    assert c.ll_status == "unbounded" and not c.certified and c.ll_gap is None
    c = certify(_unbounded_follower(infeasible=True), [0.5], [0.5])
    assert c.ll_status == "infeasible" and c.solver_status == "Infeasible"
    r = bmp.solve(classic.get("Bard1984a"))
    d = r.to_dict()["certificate"]
    assert d["ll_status"] == "optimal" and d["solver_status"] == r.certificate.solver_status == "Optimal"


@pytest.mark.parametrize("infeasible, expected", [(False, "unbounded"), (True, "infeasible")])
def test_infeasible_or_unbounded_is_resolved_by_a_feasibility_solve(monkeypatch, infeasible, expected):
    """A back end that says only "infeasible or unbounded" (SCIP's inforunbd): the
    certificate asks again with a zero objective and keeps the solver's own word."""
    real = certify_module.solve_follower
    calls = []

    def inforunbd(problem, x, time_limit, relax=0.0, feastol=None):
        out, rows, slm = real(problem, x, time_limit, relax=relax, feastol=feastol)
        calls.append(out.status)
        return SolveOutcome("unbounded", solver="scip", message="inforunbd"), rows, slm

    monkeypatch.setattr(certify_module, "solve_follower", inforunbd)
    c = certify(_unbounded_follower(infeasible=infeasible), [0.5], [0.5])
    assert calls and c.ll_status == expected and c.solver_status == "inforunbd"
    assert not c.certified and expected in c.message


def test_unresolved_infeasible_or_unbounded_is_not_a_follower_unbounded_result():
    from bilevel_mp.core.finish import Claim, status_of

    c = certify(classic.get("Bard1984a"), [1.0], [2.0])
    c.ll_status, c.certified = "infeasible_or_unbounded", False
    claim = Claim(x=np.array([1.0]), y=np.array([2.0]), certificate=c, settled=True)
    assert status_of(claim) == "error"
    c.ll_status = "unbounded"
    assert status_of(claim) == "lower_level_unbounded"


def test_certificate_has_no_negative_zero():
    import math

    # duals of inactive follower rows come back from HiGHS as -0.0
    p = bmp.BilevelProblem(1, 2, name="zeros", x_bounds=[(0, 1)], y_bounds=[(0, 1), (0, 1)])
    p.set_upper(-p.x[0] - p.y[0], sense="max")
    p.set_lower(-p.y[1], [p.y[1] <= p.x[0], p.y[0] + p.y[1] >= 0], sense="max")
    r = bmp.solve(p)
    c = r.certificate
    nums = [c.ll_value, c.ll_optimal_value, c.ll_gap, *c.duals.values(), *r.duals.values()]
    assert nums and all(math.copysign(1.0, v) > 0 for v in nums if v == 0), nums
