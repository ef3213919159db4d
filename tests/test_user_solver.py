"""The user's own solver: any Pyomo solver name serves the single-level models it can, with
the same optimum as the built-in back ends and the package's certificate; the ones it cannot
serve are refused with the reason before a wrong answer can come back."""

from __future__ import annotations

import pytest

import bilevel_mp as bmp
from bilevel_mp.library.classic import get
from bilevel_mp.library.random_lplp import random_lplp

SOLVERS = ["scip_direct", "appsi_highs"]  # Pyomo's own interfaces to solvers pip installs


@pytest.mark.parametrize("seed", [31, 32])
@pytest.mark.parametrize("solver, mode", [("scip_direct", "sos1"), ("scip_direct", "bigm"),
                                          ("appsi_highs", "bigm")])
def test_same_optimum_as_the_built_in_back_end(seed, solver, mode):
    p = random_lplp(6, seed)
    reference = bmp.solve(p, method="kkt")
    assert reference.status == "optimal"
    kw = {"dual_bound": 1e5} if mode == "bigm" else {}
    r = bmp.solve(p, method="kkt", mode=mode, solver=solver, **kw)
    assert r.solver == solver and r.certified
    assert r.F == pytest.approx(reference.F, rel=1e-6)
    # a user-assumed multiplier bound is never "optimal"; SOS1 on a global solver is
    assert r.status == ("optimal" if mode == "sos1" else "feasible")


def test_quadratic_follower_on_a_global_user_solver():
    p = get("FrankeEtal2018Ex53")       # QP-QP, known optimum F* = 1
    r = bmp.solve(p, method="kkt", solver="scip_direct")
    assert r.status == "optimal" and r.F == pytest.approx(1.0, abs=1e-6)


def test_classes_a_solver_cannot_serve_are_refused():
    p = random_lplp(5, 3)
    with pytest.raises(bmp.UnsupportedStructureError, match="SOS"):
        bmp.solve(p, method="kkt", solver="appsi_highs")              # HiGHS has no SOS1
    with pytest.raises(bmp.UnsupportedStructureError, match="indicator"):
        bmp.solve(p, method="kkt", mode="indicator", solver="scip_direct")
    with pytest.raises(bmp.UnsupportedStructureError, match="global optimality"):
        bmp.solve(get("FrankeEtal2018Ex53"), method="kkt", solver="appsi_highs")
    with pytest.raises(bmp.SolverUnavailableError, match="neither a built-in"):
        bmp.solve(p, method="kkt", solver="no_such_solver")
    with pytest.raises(bmp.BilevelInputError, match="must be a name"):
        bmp.solve(p, method="kkt", solver=3)


def test_gurobi_when_installed():
    pytest.importorskip("gurobipy")    # pip's gurobipy has a size-limited licence
    p = random_lplp(6, 33)
    reference = bmp.solve(p, method="kkt")
    r = bmp.solve(p, method="kkt", solver="gurobi_direct")
    assert r.status == "optimal" and r.certified and r.F == pytest.approx(reference.F, rel=1e-6)
