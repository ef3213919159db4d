"""The local method: Scholtes-regularised KKT reformulation with multi-start."""

import math

import numpy as np
import pytest

from bilevel_mp import BilevelProblem
from bilevel_mp.backends import nlp
from bilevel_mp.library import classic
from bilevel_mp.reformulations.scholtes import ScholtesMPEC, schedule
import bilevel_mp as bmp

def solve_regularized(p, **kw):
    return bmp.solve(p, method='regularized', **kw)

pytestmark = pytest.mark.skipif(not nlp.available(), reason="no local NLP solver (pyomo-ripopt)")

# BOLIB problems with known F; all but TP9 have a follower proven convex. TP9 (10 x 10,
# nonconvex follower) is where the global method times out.
KNOWN = [
    ("Bard1984a", 3.11111111111111, "locally_optimal"),
    ("FrankeEtal2018Ex53", 1.0, "locally_optimal"),
    ("ClarkWesterberg1990a", 5.0, "locally_optimal"),
    ("SahinCiric1998Ex2", 5.0, "locally_optimal"),
    ("Bard1988Ex2", -6600.0, "locally_optimal"),
    ("TuyEtal2007", 22.5, "locally_optimal"),
    ("SinhaMaloDeb2014TP9", 0.0, "feasible"),
]

@pytest.mark.parametrize("name,F_star,status", KNOWN, ids=[k[0] for k in KNOWN])
def test_known_value(name, F_star, status):
    p = classic.get(name)
    r = solve_regularized(p, time_limit=20)
    assert r.status == status, r.summary()
    assert r.certified, r.summary()
    assert r.method == "regularized"
    assert abs(r.F - F_star) <= 1e-2 * max(1.0, abs(F_star)), (r.F, F_star)
    # values are reported as the problem's own evaluation at (x, y)
    ev = p.evaluate(r.x, r.y)
    assert r.F == pytest.approx(ev["F"]) and r.f == pytest.approx(ev["f"])
    assert r.structure == __import__("bilevel_mp").detect(p).label
    assert any("local method" in a for a in r.assumptions)

def test_never_optimal():
    """A local method never claims a global optimum: not on an LP-LP problem the
    global method proves optimal, not on a bilevel-infeasible one."""
    r = solve_regularized(classic.get("GlackinEtal2009"), time_limit=20)
    assert r.certified and r.status == "locally_optimal"
    # MitsosBarton2006Ex32: the follower picks y = 1, the leader needs y <= 0
    r = solve_regularized(classic.get("MitsosBarton2006Ex32"), time_limit=2)
    assert r.status not in ("optimal", "locally_optimal", "feasible")
    assert not r.certified
    assert r.seconds <= 2.0 + 2.0  # time limit respected (slack: one last certificate)

def test_maximisation_sense():
    """A leader that maximises: values come back in the user's sense."""
    p = BilevelProblem(1, 1, name="max_leader", x_bounds=[(0, 4)], y_bounds=[(0, None)])
    x, y = p.x[0], p.y[0]
    p.set_upper(-(x + y), sense="max")  # = Bard1984a's F, maximised after negation
    p.set_lower(-5 * x - y, [x + y / 2 >= 2, x / 4 - y >= -2, 8 - y / 2 - x >= 0,
                            2 * y - x >= -4])
    r = solve_regularized(p, n_starts=3)
    assert r.certified and r.status == "locally_optimal"
    assert r.F == pytest.approx(-3.1111111, abs=1e-4)

def test_continuation_reduces_complementarity_residual():
    p = classic.get("TuyEtal2007")
    mpec = ScholtesMPEC(p)
    mpec.set_start([5.0], [0.0])
    run = mpec.continuation()
    kept = [s for s in run.stages if s.accepted]
    assert [s.t for s in run.stages] == schedule()
    assert kept and kept[0].t == 1.0 and kept[-1].t <= 1e-8
    for s in kept:  # each stage satisfies its relaxation lambda_j g_j <= t
        assert s.residual <= s.t + 1e-6
    assert kept[0].residual > 0.1  # the loose stage uses its slack ...
    assert kept[-1].residual <= 1e-6  # ... the last is complementary
    assert kept[-1].residual < 1e-4 * kept[0].residual
    assert run.residual == kept[-1].residual
    x, y = mpec.xy(run.values)
    assert x[0] == pytest.approx(1.5, abs=1e-4) and y[0] == pytest.approx(4.5, abs=1e-4)

def test_value_function_cut_nonconvex_follower():
    """MitsosBarton2006Ex320: the follower y^3/3 - x^2 y on [-1, 1] is nonconvex; its
    KKT point from xy_init is not follower-optimal. The certificate's better response
    gives the cut f(x, y) <= f(x, y_hat) (valid: g does not involve x), after which
    the known optimum 0.3125 is found."""
    p = classic.get("MitsosBarton2006Ex320")
    r = solve_regularized(p, time_limit=20)
    assert r.status == "feasible" and r.certified, r.summary()
    assert r.F == pytest.approx(0.3125, abs=1e-3)
    assert "value-function cut" in r.message

def test_value_cut_only_when_valid():
    # TuyEtal2007: follower constraints involve x, so f(x, y) <= f(x, y_hat) is not valid
    mpec = ScholtesMPEC(classic.get("TuyEtal2007"))
    assert not mpec.cuts_valid and not mpec.add_value_cut(np.array([1.0]))
    mpec = ScholtesMPEC(classic.get("MitsosBarton2006Ex320"))
    assert mpec.cuts_valid and mpec.add_value_cut(np.array([1.0]))
    assert len(mpec.model.value_cuts) == 1

def test_schedule():
    ts = schedule()
    assert ts[0] == 1.0 and ts[-1] == 0.0 and min(t for t in ts if t > 0) == pytest.approx(1e-8)
    assert all(b < a for a, b in zip(ts, ts[1:]))
    assert schedule(1e-2, 0.1, 1e-4) == pytest.approx([1e-2, 1e-3, 1e-4, 0.0])

def test_seeded_and_deterministic():
    a = solve_regularized(classic.get("ClarkWesterberg1990a"), seed=3, n_starts=2)
    b = solve_regularized(classic.get("ClarkWesterberg1990a"), seed=3, n_starts=2)
    assert a.status == b.status
    assert np.allclose(a.x, b.x) and np.allclose(a.y, b.y)

def test_infeasible_high_point_relaxation():
    p = BilevelProblem(1, 1, name="empty")
    x, y = p.x[0], p.y[0]
    p.set_upper(x + y, [x >= 2, x <= 1])
    p.set_lower(y, [y >= 0])
    r = solve_regularized(p)
    assert r.status == "infeasible" and r.x is None

def test_integer_leader_rounded():
    p = classic.get("MooreBard1990Cont")
    r = solve_regularized(p, time_limit=20)
    assert r.certified
    assert r.x[0] == round(r.x[0])
    assert any("integer" in a for a in r.assumptions)
    assert r.F >= -18.0 - 1e-6  # never better than the proven optimum
    assert math.isfinite(r.F)
