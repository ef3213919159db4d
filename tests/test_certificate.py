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
