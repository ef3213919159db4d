"""Penalty methods on the follower's duality gap (``bilevel_mp.algorithms.penalty``).

Starting points: BOLIB problems start from their ``xy_init``; the others from the
values their variables hold (none: 0), multipliers at 0 (NLP variant). Known optima come
from ``bilevel_mp.library.classic`` (BOLIB's F_best, or the value derived in the
builder's docstring)."""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest

import bilevel_mp as bmp
from bilevel_mp.algorithms.lplp_data import extract
from bilevel_mp.algorithms.penalty import LPLPPenalty, PenaltyNLP
from bilevel_mp.core.starts import leader_start
from bilevel_mp.backends import nlp
from bilevel_mp.core.certify import certify
from bilevel_mp.errors import BilevelInputError, UnsupportedStructureError
from bilevel_mp.library import classic
from bilevel_mp.library.random_lplp import random_lplp
from bilevel_mp.reformulations.scholtes import starts

from .conftest import linear_follower_lp

def solve_penalty(p, **kw):
    return bmp.solve(p, method='penalty', **kw)

needs_nlp = pytest.mark.skipif(not nlp.available(), reason="no local NLP solver (pyomo-ripopt)")

# (name, known F, relative tolerance). LP-LP answers are LP vertices: tight tolerance.
LPLP = [("Bard1984a", 1e-7), ("Bard1984b", 1e-7), ("TuyEtal1993", 1e-7),
        ("MitsosBarton2006Ex31", 1e-7), ("BilevelJuMPReadme", 1e-7), ("WangJiaoLi2005", 1e-7)]
# convex-QP (or LP, with a quadratic leader) followers, solved by the local NLP solver to
# its tolerance; HendersonQuandt1958's F_best is given to 2 decimals
CONVEX = [("AiyoshiShimizu1984Ex2", 1e-5), ("Bard1988Ex2", 1e-5), ("TuyEtal2007", 1e-5),
          ("FrankeEtal2018Ex53", 1e-5), ("AllendeStill2013", 1e-5), ("FrankeEtal2018Ex511", 1e-5),
          ("HendersonQuandt1958", 1e-5)]

def _independent_check(p, r):
    """The returned point passes the certificate, re-computed here; for a linear
    follower also against scipy's interior-point LP (not the HiGHS simplex the
    certificate uses)."""
    cert = certify(p, r.x, r.y)
    assert cert.certified, cert.message
    ev = p.evaluate(r.x, r.y)
    assert r.F == pytest.approx(ev["F"], rel=1e-9, abs=1e-9)
    if bmp.detect(p).lower == "linear":
        f_star, _ = linear_follower_lp(p, r.x)
        assert f_star is not None
        f_min = ev["f"] if p.lower_sense == "min" else -ev["f"]
        assert f_min - f_star <= 1e-4 * max(1.0, abs(f_star))

@pytest.mark.parametrize("name,rel", LPLP, ids=[k[0] for k in LPLP])
def test_lplp_reaches_known_optimum(name, rel):
    p = classic.get(name)
    r = solve_penalty(p, time_limit=20)
    assert r.method == "penalty" and r.solver == "highs"  # the alternating-LP variant
    # a partial optimum of the bilinear subproblem (possibly a saddle): feasible, not local
    assert r.status == "feasible", r.summary()
    assert "converged" in r.message
    assert abs(r.F - p.known_F) <= rel * max(1.0, abs(p.known_F)), (r.F, p.known_F)
    assert any("local method" in a for a in r.assumptions)
    _independent_check(p, r)

@needs_nlp
@pytest.mark.parametrize("name,rel", CONVEX, ids=[k[0] for k in CONVEX])
def test_convex_follower_reaches_known_optimum(name, rel):
    p = classic.get(name)
    assert bmp.detect(p).lower_convex
    r = solve_penalty(p, time_limit=20)
    assert r.solver != "highs"  # the NLP variant
    assert r.status == "locally_optimal", r.summary()
    assert abs(r.F - p.known_F) <= rel * max(1.0, abs(p.known_F)), (r.F, p.known_F)
    _independent_check(p, r)

@needs_nlp
def test_better_than_bolib_best_on_toll_setting():
    """TollSettingP3 (QP-LP): from xy_init the penalty reaches a certified point better
    than BOLIB's best known value; the follower's optimum there is re-computed with
    scipy's interior-point LP."""
    p = classic.get("TollSettingP3")
    r = solve_penalty(p, time_limit=20)
    assert r.certified and r.F < p.known_F - 0.5, r.summary()
    _independent_check(p, r)

def test_maximisation_senses():
    """Leader and follower maximising: the LP variant works in min form and reports
    values in the user's senses (Bard1984a with both objectives negated)."""
    p = bmp.BilevelProblem(1, 1, name="max_bard", x_bounds=[(0, None)], y_bounds=[(0, None)])
    x, y = p.x[0], p.y[0]
    p.set_upper(-(x + y), sense="max")
    p.set_lower(5 * x + y, [x + y / 2 >= 2, x / 4 - y >= -2, 8 - y / 2 - x >= 0,
                            2 * y - x + 4 >= 0], sense="max")
    r = solve_penalty(p)
    assert r.status == "feasible" and r.certified
    assert r.F == pytest.approx(-28 / 9, rel=1e-7)
    _independent_check(p, r)

def test_lplp_gap_path_decreases():
    """GlackinEtal2009 from xy_init: the gap is positive at rho0 and falls to zero."""
    p = classic.get("GlackinEtal2009")
    path = LPLPPenalty(extract(p)).run(leader_start(p), rho0=1.0, growth=10.0)
    gaps = path.gaps
    assert len(gaps) >= 2 and gaps[0] > 1e-3
    assert all(b <= a + 1e-9 * max(1.0, abs(a)) for a, b in zip(gaps, gaps[1:])), gaps
    assert path.converged and gaps[-1] <= 1e-6
    assert path.rhos == pytest.approx([10.0 ** k for k in range(len(gaps))])

@needs_nlp
@pytest.mark.parametrize("name", ["TuyEtal2007", "ClarkWesterberg1990a", "MooreBard1990Cont"])
def test_nlp_gap_path_decreases(name):
    p = classic.get(name)
    mpec = PenaltyNLP(p)
    _, x0, y0 = next(starts(mpec, 0, np.random.default_rng(0)))
    path = mpec.run(x0, y0, rho0=1.0, growth=10.0)
    gaps = path.gaps
    assert len(gaps) >= 2 and gaps[0] > 1e-3
    assert all(b <= a + 1e-6 * max(1.0, abs(a)) for a, b in zip(gaps, gaps[1:])), gaps
    assert path.converged and gaps[-1] <= 1e-6 * max(1.0, abs(p.evaluate(path.x, path.y)["f"]))

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alternating_lps_never_increase_penalised_objective(seed):
    """Each LP of a fixed-rho alternation (over (x, y), then over u) lowers or keeps
    F + rho * pi; the trace starts at the previous rho's point under the new rho."""
    p = random_lplp(8, seed)
    solver = LPLPPenalty(extract(p))
    path = solver.run(np.zeros(p.n_x), rho0=1e-2, growth=10.0)
    traces = [s.trace for s in path.steps]
    assert sum(len(t) for t in traces) >= 4
    for t in traces:
        for a, b in zip(t, t[1:]):
            assert b <= a + 1e-9 * max(1.0, abs(a)), t
    for s in path.steps:  # after the last LP over u, pi is the follower's true gap
        assert s.gap >= 0.0

def test_lplp_statuses_never_claim_too_much():
    # bilevel infeasible (the follower picks y = 1, the leader needs y <= 0)
    r = solve_penalty(classic.get("MitsosBarton2006Ex32"), max_iter=4)
    assert r.status == "error" and not r.certified
    # penalised LPs unbounded: no bilevel conclusion is drawn
    r = solve_penalty(classic.get("TuyEtal2007Ex3"), max_iter=3)
    assert r.status == "error" and "unbounded" in r.message
    # follower's dual infeasible: the follower's LP is unbounded
    p = bmp.BilevelProblem(1, 1, name="unb", x_bounds=[(0, 1)])
    p.set_upper(p.x[0] + p.y[0]).set_lower(-p.y[0], [p.y[0] >= p.x[0]])
    assert solve_penalty(p).status == "lower_level_unbounded"
    # high-point relaxation infeasible: an LP proof
    p = bmp.BilevelProblem(1, 1, name="inf", x_bounds=[(0, 1)], y_bounds=[(0, 1)])
    p.set_upper(p.x[0], [p.x[0] + p.y[0] >= 3]).set_lower(p.y[0])
    assert solve_penalty(p).status == "infeasible"

@needs_nlp
def test_integer_leader_is_rounded_and_not_called_local_optimum():
    p = classic.get("IntegerLeaderLP")
    r = solve_penalty(p, time_limit=20)
    assert r.status == "feasible" and r.certified
    assert np.allclose(r.x, np.round(r.x))
    assert any("rounded" in a for a in r.assumptions)

def test_bad_input():
    p = classic.get("Bard1984a")
    p.y[0].domain = pyo.Integers
    with pytest.raises(UnsupportedStructureError, match="integer"):
        solve_penalty(p)
    # nonconvex follower (MitsosBarton2006Ex35: nonlinear in y)
    q = classic.get("MitsosBarton2006Ex35")
    assert not bmp.detect(q).lower_convex
    with pytest.raises(UnsupportedStructureError, match="convex"):
        solve_penalty(q)
    p = classic.get("Bard1984a")
    for kwargs, what in [({"rho0": 0}, "rho0"), ({"rho0": -1.0}, "rho0"), ({"rho0": math.nan}, "rho0"),
                         ({"rho0": math.inf}, "rho0"), ({"rho0": "1"}, "rho0"), ({"growth": 1.0}, "growth"),
                         ({"growth": 0.5}, "growth"), ({"tol": 0.0}, "tol"), ({"max_outer": 0}, "max_outer"),
                         ({"max_outer": 2.5}, "max_outer"), ({"time_limit": -1}, "time_limit")]:
        with pytest.raises(BilevelInputError, match=what):
            solve_penalty(p, **kwargs)
