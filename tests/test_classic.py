"""Known optima of classic problems (LP-LP, convex-QP followers, integer leaders),
each certified by the follower re-solve."""

import itertools

import numpy as np
import pytest

import bilevel_mp as bmp
from bilevel_mp.library import classic

from .conftest import fixed, linear_follower_lp

# (name, known optimal F) — BOLIB status-1 values, rounded as BOLIB gives them
KNOWN = [
    ("Bard1984a", 3.11111111111111),
    ("Bard1984b", -37.6),
    ("GlackinEtal2009", 6.0),
    ("MershaDempe2006Ex2", -20.0),
    ("TuyEtal1993", -3.25),
    ("TuyEtal1994", 6.0),
    ("VisweswaranEtal1996", 3.11111111111111),
    ("WangJiaoLi2005", -1000.0),
    ("MitsosBarton2006Ex31", 1.0),
    ("Bard1991Ex1", 2.0),
    ("DempeFranke2014Ex38", -1.0),
    ("FrankeEtal2018Ex511", 3.0),
    ("FrankeEtal2018Ex53", 1.0),
    ("AllendeStill2013", 1.0),
    ("Bard1988Ex2", -6600.0),
    ("BardBook1998", 0.0),
    ("CalamaiVicente1994a", 0.0),
    ("CalamaiVicente1994b", 0.3125),
    ("ClarkWesterberg1990a", 5.0),
    ("GumusFloudas2001Ex4", 9.0),
    ("HatzEtal2013", 0.0),
    ("LamparielloSagratella2017Ex31", 1.0),
    ("LamparielloSagratella2017Ex33", 0.5),
    ("SahinCiric1998Ex2", 5.0),
    ("Yezza1996Ex41", 0.5),
    ("BilevelJuMPReadme", 3 * (3.5 * 8 / 15) + 8 / 15),
    ("MooreBard1990Cont", -18.0),
    ("IntegerLeaderLP", -10.0),
]


@pytest.mark.parametrize("name,F_star", KNOWN, ids=[k[0] for k in KNOWN])
def test_known_optimum(name, F_star):
    p = classic.get(name)
    s = bmp.detect(p)
    assert s.lower in ("linear", "convex_quadratic")
    r = bmp.solve(p, time_limit=60)
    assert r.status == "optimal", r.summary()
    assert r.certified and r.certificate.exact
    assert r.ll_gap <= 1e-4 * max(1.0, abs(r.f))
    # BOLIB gives most values to 2-4 decimals
    assert abs(r.F - F_star) <= 1e-3 * max(1.0, abs(F_star)), (r.F, F_star)
    assert r.bound is not None and r.bound <= r.F + 1e-6 * max(1, abs(r.F))


def _enumerate_integer_leader(p, box):
    """Best leader value over all integer x in ``box``, follower re-solved by scipy."""
    best = np.inf
    for x in itertools.product(*[range(lo, hi + 1) for lo, hi in box]):
        fstar, y = linear_follower_lp(p, np.array(x, float))
        if fstar is None:
            continue
        # optimistic tie-break: best F among follower-optimal y, by an LP over the face
        from scipy.optimize import linprog
        from pyomo.repn import generate_standard_repn

        p.set_point(x=x)
        with fixed(p.x):
            rF = generate_standard_repn(p.F, compute_values=True)
            rf = generate_standard_repn(p.f, compute_values=True)
        idx = {id(p.y[j]): j for j in range(p.n_y)}
        cF, cf = np.zeros(p.n_y), np.zeros(p.n_y)
        for v, a in zip(rF.linear_vars, rF.linear_coefs):
            if id(v) in idx:
                cF[idx[id(v)]] += a
        for v, a in zip(rf.linear_vars, rf.linear_coefs):
            cf[idx[id(v)]] += a
        with fixed(p.x):
            A, b = [], []
            for con in p.g:
                r = generate_standard_repn(con.body, compute_values=True)
                row = np.zeros(p.n_y)
                for v, a in zip(r.linear_vars, r.linear_coefs):
                    row[idx[id(v)]] += a
                A.append(-row)
                b.append(r.constant)
            Gs = [generate_standard_repn(c.body, compute_values=True) for c in p.G]
        A.append(cf)
        b.append(fstar - rf.constant + 1e-9)
        for r in Gs:
            row = np.zeros(p.n_y)
            for v, a in zip(r.linear_vars, r.linear_coefs):
                row[idx[id(v)]] += a
            A.append(-row)
            b.append(r.constant)
        res = linprog(cF, A_ub=np.array(A), b_ub=b,
                      bounds=[(p.y[j].lb, p.y[j].ub) for j in range(p.n_y)], method="highs-ipm")
        if res.status == 0:
            best = min(best, res.fun + rF.constant)
    return best


@pytest.mark.parametrize("name,box", [("MooreBard1990Cont", [(0, 8)]),
                                      ("IntegerLeaderLP", [(0, 4), (0, 4)])])
def test_integer_leader_matches_enumeration(name, box):
    p = classic.get(name)
    F_enum = _enumerate_integer_leader(p, box)
    r = bmp.solve(classic.get(name))
    assert r.status == "optimal" and r.certified
    assert abs(r.F - F_enum) <= 1e-6 * max(1, abs(F_enum))
    assert np.allclose(r.x, np.round(r.x))


@pytest.mark.parametrize("name", ["AiyoshiShimizu1984Ex2", "DempeLohse2011Ex31a"])
def test_points_better_than_bolib_are_really_feasible(name):
    """Where we beat BOLIB's value, check the point independently: the follower is
    re-solved by scipy (interior point) at our x and our y attains its optimum."""
    p = classic.get(name)
    r = bmp.solve(p)
    assert r.certified and r.F < p.known_F - 1e-2
    ev = p.evaluate(r.x, r.y)
    assert ev["G_violation"] <= 1e-6 and ev["g_violation"] <= 1e-6
    if bmp.detect(p).lower == "linear":
        fstar, _ = linear_follower_lp(p, r.x)
        assert ev["f"] <= fstar + 1e-6 * max(1, abs(fstar))
    else:  # convex QP follower: scipy's SLSQP from the certificate's own start is independent
        from scipy.optimize import minimize
        import pyomo.environ as pyo

        p.set_point(x=r.x)

        def f_of(y):
            p.set_point(y=y)
            return pyo.value(p.f)

        cons = [{"type": "ineq", "fun": (lambda y, c=c: (p.set_point(y=y), pyo.value(c.body))[1])}
                for c in p.g]
        best = min(minimize(f_of, y0, constraints=cons, method="SLSQP").fun
                   for y0 in (r.y, np.zeros(p.n_y), np.ones(p.n_y)))
        assert ev["f"] <= best + 1e-5 * max(1, abs(best))
